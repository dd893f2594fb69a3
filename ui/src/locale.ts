// Some systems hand the webview a locale Intl cannot use (a POSIX "C" locale gives "c"); libraries
// that format numbers with navigator.language would then throw. Fall back to English there.
// Imported first by main.ts, before anything that formats.
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
  Object.defineProperty(navigator, "languages", { value: ["en-US"], configurable: true });
}
