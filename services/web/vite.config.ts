import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

/** The web app: sources in services/web, output in dist/web (served by services/web/plugin.ts). */
export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  build: {
    outDir: resolve(here, '../../dist/web'),
    emptyOutDir: true,
    // Leaflet's marker images and CSS are bundled as files, never fetched from a CDN.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/web/': 'http://127.0.0.1:8080' } },
});
