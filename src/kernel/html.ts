/**
 * Server-rendered pages (sandbox emulators, payment forwarding, checkout): escaping and a template tag
 * that escapes everything interpolated unless it is already trusted HTML.
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A trusted HTML fragment; everything interpolated into `html` that is not one is escaped. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export function html(strings: TemplateStringsArray, ...values: (string | Html | readonly Html[])[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const part = value instanceof Html ? value.text : Array.isArray(value) ? value.map((v: Html) => v.text).join('') : escapeHtml(value as string);
    out += part + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** A complete, self-contained page: no external assets, not indexed, phone-sized viewport. */
export function standalonePage(options: { lang: string; title: string; styles: string; body: string }): string {
  return `<!doctype html>
<html lang="${escapeHtml(options.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(options.title)}</title>
<style>${options.styles}</style>
</head>
<body>
<main>
${options.body}
</main>
</body>
</html>
`;
}
