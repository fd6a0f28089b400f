/* eslint-disable no-control-regex -- finding these characters is what these patterns are for */
/**
 * The one place for patterns that name control characters. Elsewhere such a pattern
 * is usually a mistake, so the lint rule that flags them stays on everywhere but here;
 * code that validates, strips or escapes control characters imports them from this module.
 */

/** The escape character that starts a terminal control sequence. */
export const ESC = '\x1b';

/**
 * Any C0 control character (U+0000 to U+001F: line breaks, tabs, NUL...) or DEL (U+007F):
 * what names, ids and header values must not contain. No `g` flag, so `.test` holds no state.
 */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * A terminal control sequence (CSI: ESC `[`, parameters, a final letter), such as a colour
 * or a cursor move: `text.replace(ANSI_ESCAPE, '')` leaves what the terminal shows.
 * Global: code that moves `lastIndex` (`.exec` at a position) uses a copy of its own,
 * `new RegExp(ANSI_ESCAPE)`, so no other user finds it moved.
 */
export const ANSI_ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * The control characters XML 1.0 forbids even as character references: all of C0 except
 * tab, line feed and carriage return. `text.replace(XML_FORBIDDEN, '')` leaves text an XML
 * document may hold.
 */
export const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;
