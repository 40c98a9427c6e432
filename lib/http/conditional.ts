// Conditional requests: If-None-Match uses the weak comparison (RFC 9110 §13.1.2), so
// `W/"x"` matches `"x"`, and `*` matches any current representation.

export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strong = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === strong;
  });
}
