/** Issue #13: Tasmota FullTopic and relay tags, in the ACL functions of the protocol module. */
import { describe, expect, it } from 'vitest';
import {
  fullTopicProblem,
  isAllowedNativePublish,
  isAllowedNativeSubscription,
  isNativeAvailabilityTopic,
  matchTasmotaTopic,
  nativeAvailabilityTopic,
  nativeTagsProblem,
  tasmotaTopic,
} from '../../../devices/protocol/index.ts';

describe('Tasmota FullTopic', () => {
  it('accepts FullTopics with %prefix% and %topic% as whole levels, with or without the trailing /', () => {
    for (const ft of [
      '%prefix%/%topic%/',
      'MyHome/Bathroom/%prefix%/%topic%/',
      '%topic%/%prefix%/',
      'a/%topic%/%prefix%',
    ])
      expect(fullTopicProblem(ft), ft).toBeNull();
  });

  it('refuses FullTopics it cannot follow, naming the tag', () => {
    for (const ft of [
      '%topic%/',
      'tele/%topic%/',
      '%prefix%/%prefix%/%topic%/',
      'home_%topic%/%prefix%/',
      '%prefix%/%hostname%/%topic%/',
      '+/%prefix%/%topic%/',
      '%prefix%//%topic%/',
      'a/b/c/d/e/%prefix%/%topic%/',
    ])
      expect(fullTopicProblem(ft), ft).toMatch(/^tags\.fullTopic: /);
  });

  it('renders and matches topics', () => {
    expect(tasmotaTopic('MyHome/Bathroom/%prefix%/%topic%/', 'tele', 'lamp_5', 'LWT')).toBe(
      'MyHome/Bathroom/tele/lamp_5/LWT',
    );
    expect(tasmotaTopic('%topic%/%prefix%/', 'cmnd', 'lamp_5', '')).toBe('lamp_5/cmnd/');
    expect(matchTasmotaTopic('%topic%/%prefix%/', 'lamp_5', 'lamp_5/stat/POWER2')).toEqual({
      prefix: 'stat',
      command: 'POWER2',
    });
    expect(matchTasmotaTopic('%topic%/%prefix%/', 'lamp_5', 'lamp_6/stat/POWER2')).toBeNull();
    expect(matchTasmotaTopic('%topic%/%prefix%/', 'lamp_5', 'lamp_5/stat')).toBeNull();
    expect(matchTasmotaTopic('%topic%/%prefix%/', 'lamp_5', 'lamp_5/stat/POWER/x')).toBeNull();
  });

  it('the ACL follows the FullTopic: publish tele/stat, retain LWT, subscribe cmnd', () => {
    const ft = 'MyHome/Bathroom/%prefix%/%topic%/';
    expect(isAllowedNativePublish('tasmota', 'lamp_5', 'MyHome/Bathroom/tele/lamp_5/STATE', ft)).toBe(true);
    expect(isAllowedNativePublish('tasmota', 'lamp_5', 'MyHome/Bathroom/stat/lamp_5/RESULT', ft)).toBe(true);
    expect(isAllowedNativePublish('tasmota', 'lamp_5', 'MyHome/Bathroom/cmnd/lamp_5/POWER', ft)).toBe(false);
    expect(isAllowedNativePublish('tasmota', 'lamp_5', 'MyHome/Kitchen/tele/lamp_5/STATE', ft)).toBe(false);
    expect(isAllowedNativePublish('tasmota', 'lamp_5', 'tele/lamp_5/STATE', ft)).toBe(false);
    expect(isAllowedNativePublish('tasmota', 'lamp_5', 'tele/lamp_5/STATE')).toBe(true); // default
    expect(nativeAvailabilityTopic('tasmota', 'lamp_5', ft)).toBe('MyHome/Bathroom/tele/lamp_5/LWT');
    expect(isNativeAvailabilityTopic('tasmota', 'lamp_5', 'MyHome/Bathroom/tele/lamp_5/LWT', ft)).toBe(true);
    expect(isAllowedNativeSubscription('tasmota', 'lamp_5', 'MyHome/Bathroom/cmnd/lamp_5/#', ft)).toBe(true);
    expect(isAllowedNativeSubscription('tasmota', 'lamp_5', 'cmnd/lamp_5/#', ft)).toBe(false);
    expect(isAllowedNativeSubscription('tasmota', 'lamp_5', 'lamp_5/cmnd/+', '%topic%/%prefix%/')).toBe(true);
  });

  it('device tags: fullTopic and tasmotaRelay only for tasmota, and valid', () => {
    expect(nativeTagsProblem('tasmota', { fullTopic: '%topic%/%prefix%/', tasmotaRelay: '4' })).toBeNull();
    expect(nativeTagsProblem('tasmota', { tasmotaRelay: '9' })).toMatch(/^tags\.tasmotaRelay: /);
    expect(nativeTagsProblem('tasmota', { tasmotaRelay: '0' })).toMatch(/^tags\.tasmotaRelay: /);
    expect(nativeTagsProblem('tasmota', { fullTopic: '%topic%' })).toMatch(/^tags\.fullTopic: /);
    expect(nativeTagsProblem('shelly-gen2', { fullTopic: '%prefix%/%topic%/' })).toMatch(
      /only for protocol tasmota/,
    );
    expect(nativeTagsProblem('wardwatch', { anything: 'x' })).toBeNull();
  });
});
