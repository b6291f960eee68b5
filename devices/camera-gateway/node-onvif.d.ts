/**
 * Hand-written declarations for node-onvif 0.1.7 (CommonJS, no @types): only what the camera
 * gateway uses. Checked against node_modules/node-onvif/lib (device.js, service-device.js,
 * soap.js, node-onvif.js); keep them in step when upgrading (aedes learned that drift hurts).
 */
declare module 'node-onvif' {
  /** What a SOAP call resolves with: `data` is the parsed `<Body>` (namespace prefixes stripped). */
  export interface OnvifResult<T = Record<string, unknown>> {
    soap: string;
    data: T;
  }

  export interface OnvifDeviceInformation {
    Manufacturer?: string;
    Model?: string;
    FirmwareVersion?: string;
    SerialNumber?: string;
    HardwareId?: string;
  }

  export interface OnvifServiceDevice {
    /** PRE_AUTH; sets the time difference used by later calls' WS-UsernameToken. */
    getSystemDateAndTime(): Promise<OnvifResult>;
    /** Camera clock minus local clock, ms, from the last getSystemDateAndTime (0 before). */
    getTimeDiff(): number;
    getDeviceInformation(): Promise<OnvifResult<{ GetDeviceInformationResponse: OnvifDeviceInformation }>>;
  }

  export interface OnvifDeviceParams {
    /** Device service URL, e.g. http://192.168.1.64/onvif/device_service */
    xaddr?: string;
    address?: string;
    user?: string;
    pass?: string;
  }

  export class OnvifDevice {
    constructor(params: OnvifDeviceParams);
    services: { device: OnvifServiceDevice; media: unknown | null };
    /** GetSystemDateAndTime, GetCapabilities, GetDeviceInformation, GetProfiles, GetStreamUri, GetSnapshotUri. */
    init(): Promise<unknown>;
    /** The first media profile (after init), with its snapshot URI; null before. */
    getCurrentProfile(): { token: string; name: string; snapshot: string } | null;
    /** GET of the current profile's snapshot URI with HTTP Digest auth; rejects on non-image answers. */
    fetchSnapshot(): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>;
  }

  export interface OnvifProbeMatch {
    urn: string;
    name: string;
    hardware: string;
    location: string;
    types: string[];
    xaddrs: string[];
    scopes: string[];
  }

  export interface Onvif {
    OnvifDevice: typeof OnvifDevice;
    /** WS-Discovery: sends Probes to `_MULTICAST_ADDRESS:_PORT`, collects matches for `_DISCOVERY_WAIT` ms. */
    startProbe(): Promise<OnvifProbeMatch[]>;
    stopProbe(): Promise<void>;
    // Private in node-onvif, but plain fields: the gateway points discovery at a configurable address.
    _MULTICAST_ADDRESS: string;
    _PORT: number;
    _DISCOVERY_WAIT: number;
  }

  const onvif: Onvif;
  export default onvif;
}
