// The query editor: a plain <textarea> (so typing, selection, undo and screen readers work
// as everywhere) over a highlighted copy of its text, kept in the same grid cell so the two
// wrap and grow together.

import { render } from "./highlight.js";

export class Editor {
  constructor(textarea, code) {
    this.input = textarea;
    this.code = code;
    this.language = "sql";
    textarea.addEventListener("input", () => this.paint());
  }

  get value() {
    return this.input.value;
  }

  set value(text) {
    this.input.value = text;
    this.paint();
  }

  setLanguage(language) {
    this.language = language;
    this.paint();
  }

  paint() {
    render(this.code, this.input.value, this.language);
  }

  focus() {
    this.input.focus();
  }
}
