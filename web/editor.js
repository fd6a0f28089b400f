/**
 * The script editor: a real <textarea> (so the field has its label, undo, IME
 * and screen-reader support) laid transparently over a highlighted <pre> of
 * the same text, with a gutter of line numbers. The textarea is sized to its
 * text, and the frame around all three scrolls, so the layers never drift.
 * Lines with a compile error are marked in the gutter and the code.
 */
import { highlightLines } from './highlight.js';

export class ScriptEditor {
  /** `textarea` is the labelled field; the editor builds its frame around it. */
  constructor(textarea) {
    this.textarea = textarea;
    this.errors = new Map();
    this.frame = document.createElement('div');
    this.frame.className = 'code-editor';
    this.gutter = document.createElement('div');
    this.gutter.className = 'gutter';
    this.gutter.setAttribute('aria-hidden', 'true');
    const area = document.createElement('div');
    area.className = 'code-area';
    this.pre = document.createElement('pre');
    this.pre.className = 'highlight';
    this.pre.setAttribute('aria-hidden', 'true');
    textarea.replaceWith(this.frame);
    this.frame.append(this.gutter, area);
    area.append(this.pre, textarea);
    textarea.wrap = 'off';
    textarea.spellcheck = false;
    textarea.setAttribute('autocapitalize', 'off');
    textarea.setAttribute('autocomplete', 'off');
    textarea.addEventListener('input', () => this.render());
    textarea.addEventListener('keydown', (event) => this.onKey(event));
    this.render();
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.render();
  }

  /** Marks lines with problems: a Map of line number → message; empty clears. */
  setErrors(errors) {
    this.errors = errors;
    this.render();
  }

  render() {
    const text = this.textarea.value;
    const lines = text.split('\n');
    const errorLines = new Set(this.errors.keys());
    this.pre.innerHTML = `${highlightLines(text, errorLines)}\n`;
    this.gutter.replaceChildren(
      ...lines.map((_, i) => {
        const n = document.createElement('div');
        n.textContent = String(i + 1);
        if (errorLines.has(i + 1)) {
          n.className = 'error-line';
          n.title = this.errors.get(i + 1);
          n.dataset.line = String(i + 1);
        }
        return n;
      }),
    );
    // Sized to the text, so the frame scrolls all layers together.
    const longest = lines.reduce((max, line) => Math.max(max, line.replace(/\t/g, '  ').length), 0);
    this.textarea.style.height = `calc(${lines.length} * var(--code-line) + 2 * var(--code-pad))`;
    this.textarea.style.width = `max(100%, calc(${longest + 2}ch + 2 * var(--code-pad)))`;
    this.pre.style.width = this.textarea.style.width;
  }

  /** Tab indents by two spaces; Escape then Tab leaves the field, as keyboard users expect to be able to. */
  onKey(event) {
    if (event.key === 'Escape') {
      this.escaped = true;
      return;
    }
    if (event.key === 'Tab' && !event.shiftKey && !this.escaped && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      document.execCommand('insertText', false, '  ');
    }
    this.escaped = false;
  }
}
