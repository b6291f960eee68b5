import { errorText, t } from './i18n.ts';

/** A tiny DOM builder: text always goes in as text nodes, never as HTML (device names come from users). */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, '').toLowerCase(), v);
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else if (k === 'checked' && v === true) (el as HTMLInputElement).checked = true;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function select(
  attrs: Attrs,
  options: Array<[value: string, text: string]>,
  selected: string,
): HTMLSelectElement {
  return h(
    'select',
    attrs,
    options.map(([v, text]) => h('option', { value: v, selected: v === selected }, text)),
  );
}

/** A form's submit button and its Cancel (`onCancel`: usually, close the form). */
export function formActions(submit: string, onCancel: () => void): HTMLDivElement {
  return h(
    'div',
    { class: 'ww-actions' },
    h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, submit),
    h('button', { class: 'ww-btn', type: 'button', onclick: onCancel }, t('cancel')),
  );
}

/**
 * An API error where the user reads it (issue #12): the text of its code in their language, the
 * API's English message only as the tooltip (for a technician reporting it).
 */
export function showError(el: HTMLElement, err: unknown): void {
  el.textContent = err instanceof UserError ? err.message : errorText(err);
  el.title = err instanceof Error ? err.message : '';
}

/** An error the app itself words for the user (already in their language), e.g. a bad file. */
export class UserError extends Error {}
