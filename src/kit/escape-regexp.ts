// Text as a regular expression that matches it literally: every character with a
// meaning in a pattern escaped with a backslash. The escapes are ones JavaScript,
// MongoDB ($regex, PCRE) and Java (Jira expressions) all read alike, which
// RegExp.escape's \x escapes of leading digits and white space are not.

export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
