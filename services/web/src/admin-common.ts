import { h } from './dom.ts';
import { type MessageKey, t } from './i18n.ts';
import { store } from './store.ts';
import type { Role } from './types.ts';

/** Pieces the admin screens share (issue #12): role names, ward names, ward checkboxes. */
export const ROLES: readonly Role[] = ['viewer', 'technician', 'admin'];

const ROLE_KEY: Record<Role, MessageKey> = {
  admin: 'admRoleAdmin',
  technician: 'admRoleTechnician',
  viewer: 'admRoleViewer',
};
export const roleLabel = (r: Role): string => t(ROLE_KEY[r]);

/** "Tất cả phường" for an empty list (every ward), else the names. */
export const wardsText = (ids: readonly string[]): string =>
  ids.length === 0 ? t('allWards') : ids.map((id) => store.wardName(id)).join(', ');

/** One checkbox per ward record the admin may see, ticked for `selected`; named `ward`. */
export function wardCheckboxes(selected: readonly string[]): HTMLFieldSetElement {
  const options = store.wardOptions([...store.wards.keys(), ...selected]);
  return h(
    'fieldset',
    { class: 'ww-ward-boxes' },
    h('legend', {}, t('admUserWards')),
    ...options.map(([id, name]) =>
      h(
        'label',
        { class: 'ww-check' },
        h('input', { type: 'checkbox', name: 'ward', value: id, checked: selected.includes(id) }),
        name,
      ),
    ),
    h('small', { class: 'ww-muted' }, t('admUserWardsHint')),
  );
}

export const checkedWards = (form: HTMLElement): string[] =>
  Array.from(form.querySelectorAll<HTMLInputElement>('input[name=ward]:checked')).map((i) => i.value);

/** A labelled form field. */
export const field = (text: string, control: HTMLElement): HTMLLabelElement => h('label', {}, text, control);
