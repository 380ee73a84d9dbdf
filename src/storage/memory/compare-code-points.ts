/**
 * Orders strings by Unicode code point. That is the order SQLite's BINARY collation gives UTF-8 text (memcmp of
 * UTF-8 bytes), so the memory store scans in exactly the order the SQLite store does. Plain `<` on JS strings
 * compares UTF-16 code units, which disagrees for characters above U+FFFF versus U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800..DFFF) stand for code points above FFFF: move them above E000..FFFF, which move down.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}
