import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` serves the UI with hot reload and proxies the API to a running
// `pigeonhole serve` (PIGEONHOLE_URL, default http://127.0.0.1:8025).
const engine = process.env.PIGEONHOLE_URL ?? 'http://127.0.0.1:8025';

export default defineConfig({
  plugins: [svelte()],
  // pdf.js (about 410 kB) is its own chunk, loaded only when a PDF is shown.
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 450 },
  server: {
    proxy: {
      '/api': { target: engine, ws: true, changeOrigin: false },
      '/view': engine,
    },
  },
});
