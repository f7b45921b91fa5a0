/**
 * Benchmark 3's baseline: a bare Express app answering the status route with a
 * fixed document, as a process of its own like the API's. Listens on PORT and
 * prints `listening <port>` once it does.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';

const app = express();
app.get('/v1/ebooks/:id/status', (req, res) => {
  res.json({ id: req.params.id, status: 'running', stage: 'chapters', progress: 0.5, chapters: [] });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
