import { deflateSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

const THEME_COLOR = '#2f7d4f';

export default defineConfig({
  plugins: [
    react(),
    appIcons([192, 512]),
    VitePWA({
      registerType: 'autoUpdate',
      // main.tsx registers /sw.js itself (no workbox-window in the bundle).
      injectRegister: false,
      manifest: {
        name: 'Basket',
        short_name: 'Basket',
        description: 'The shopping list your family shares, even with no signal.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#ffffff',
        theme_color: THEME_COLOR,
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,png,svg}'],
        navigateFallback: '/index.html',
        // The relay's own endpoints must never be answered with the app shell.
        navigateFallbackDenylist: [/^\/sync/, /^\/healthz/, /^\/metrics/],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  build: {
    target: 'es2022',
  },
  server: {
    proxy: {
      '/sync': { target: 'ws://localhost:8080', ws: true },
    },
  },
});

/**
 * Emits the app icons as PNGs at build time (a basket on the theme colour),
 * so no binary files live in the repository.
 */
function appIcons(sizes: readonly number[]): Plugin {
  return {
    name: 'basket-app-icons',
    apply: 'build',
    generateBundle() {
      for (const size of sizes) {
        this.emitFile({ type: 'asset', fileName: `icon-${size}.png`, source: basketIconPng(size) });
      }
    },
  };
}

function basketIconPng(size: number): Uint8Array {
  const [r, g, b] = [0x2f, 0x7d, 0x4f];
  const row = 1 + size * 4;
  const pixels = Buffer.alloc(row * size);
  for (let y = 0; y < size; y++) {
    pixels[y * row] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const u = x / size;
      const v = y / size;
      // Basket body: a trapezoid; handle: a ring above it. Both inside the maskable safe zone.
      const halfWidth = 0.26 - (v - 0.45) * 0.12;
      const inBody = v >= 0.45 && v <= 0.72 && Math.abs(u - 0.5) <= halfWidth;
      const slat = inBody && Math.abs(u - 0.5) % 0.1 < 0.02 && v > 0.5;
      const dist = Math.hypot(u - 0.5, (v - 0.45) * 1.1);
      const inHandle = v < 0.45 && dist > 0.17 && dist < 0.21;
      const white = (inBody && !slat) || inHandle;
      const offset = y * row + 1 + x * 4;
      pixels[offset] = white ? 255 : r;
      pixels[offset + 1] = white ? 255 : g;
      pixels[offset + 2] = white ? 255 : b;
      pixels[offset + 3] = 255;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(pixels)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([length, body, crc]);
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
