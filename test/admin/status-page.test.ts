import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from '../../shared/admin/status-page.js';

// The page as a string: what can be checked without a browser (test/admin/status-page.browser.test.ts drives it).

function inline(tag: 'script' | 'style'): string[] {
  return [...STATUS_PAGE_HTML.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

describe('STATUS_PAGE_HTML', () => {
  it('is one HTML document that loads nothing from anywhere: no external script, style, image or font', () => {
    expect(STATUS_PAGE_HTML.startsWith('<!doctype html>')).toBe(true);
    expect(STATUS_PAGE_HTML).not.toMatch(/\b(?:src|href)=(?!["']?data:)/);
    expect(STATUS_PAGE_HTML).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(STATUS_PAGE_HTML).not.toMatch(/@import|url\(/);
    expect(inline('script')).toHaveLength(1);
    expect(inline('style')).toHaveLength(1);
  });

  it('carries a script that parses and writes to the DOM only as text (no innerHTML, no document.write, no eval)', () => {
    const [script] = inline('script');

    expect(() => new Script(script!, { filename: 'status-page.js' })).not.toThrow();
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
  });

  it('is served under a Content-Security-Policy that admits exactly its own script and style', () => {
    const policy = STATUS_PAGE_HEADERS['content-security-policy']!;
    const directives = Object.fromEntries(
      policy.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values.join(' ')];
      }),
    );

    expect(directives).toEqual({
      'default-src': "'none'",
      'script-src': hash(inline('script')[0]!),
      'style-src': hash(inline('style')[0]!),
      'connect-src': "'self'",
      'img-src': 'data:',
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
    expect(STATUS_PAGE_HEADERS['content-type']).toBe('text/html; charset=utf-8');
    expect(STATUS_PAGE_HTML).not.toMatch(/\sstyle=/);
  });

  it('has the stable test ids the browser test and a person driving it rely on', () => {
    // In the markup, or set by the script as it draws.
    for (const id of [
      'processor-picker',
      'updated',
      'error-banner',
      'split',
      'merge',
      'scale-input',
      'reset-preview',
    ]) {
      expect(STATUS_PAGE_HTML).toContain(`data-testid="${id}"`);
    }
    for (const id of ['confirm', 'cancel', 'confirm-dialog', 'operation-status']) {
      expect(STATUS_PAGE_HTML).toContain(`data-testid="${id}"`);
    }
    for (const id of ['layout-bar', 'warnings', 'pending-change', 'parked-keys', 'last-errors']) {
      expect(STATUS_PAGE_HTML).toMatch(new RegExp(`data-testid="${id}"|'${id}'`));
    }
    for (const prefix of ['segment-', 'partition-', 'lag-records-', 'lag-seconds-', 'chart-records-', 'stalled-']) {
      expect(STATUS_PAGE_HTML).toContain(`'${prefix}' +`);
    }
  });
});
