import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/*
 * Serves one PGlite database to many PostgreSQL clients over TCP. PGlite has a single session, so
 * clients take turns: a turn is one complete request (a simple Query, or an extended-protocol run
 * of Parse/Bind/Describe/Execute up to its Sync), never a single message, so two clients' unnamed
 * statements cannot interleave; while a client has a transaction open, only that client runs.
 */

const SslRequest = 80877103;
const GssRequest = 80877104;
const CancelRequest = 80877102;
// Messages after which the server answers: Sync, Query, Terminate, password, FunctionCall, CopyDone, CopyFail.
const requestEnds = new Set(['S', 'Q', 'X', 'p', 'F', 'c', 'f'].map((c) => c.charCodeAt(0)));

type Turn = { client: number; bytes: Uint8Array; socket: Socket };

export type PGliteServer = { port: number; close(): Promise<void> };

export const servePGlite = async (db: PGlite): Promise<PGliteServer> => {
  const queue: Turn[] = [];
  let transactionOwner: number | null = null;
  let running = false;
  let nextClient = 1;

  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const index = transactionOwner === null ? 0 : queue.findIndex((turn) => turn.client === transactionOwner);
        const turn = index === -1 ? undefined : queue.splice(index, 1)[0];
        if (turn === undefined) return;
        await db.runExclusive(() =>
          db.execProtocolRawStream(turn.bytes, { onRawData: (data) => void (turn.socket.writable && turn.socket.write(data)) }),
        );
        transactionOwner = db.isInTransaction() ? turn.client : null;
      }
    } finally {
      running = false;
    }
  };

  const release = async (client: number): Promise<void> => {
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.client === client) queue.splice(i, 1);
    if (transactionOwner === client) {
      await db.runExclusive(() => db.exec('ROLLBACK'));
      transactionOwner = null;
      void run();
    }
  };

  const server: Server = createServer((socket) => {
    const client = nextClient++;
    let buffer = Buffer.alloc(0);
    let pending: Buffer[] = [];
    let started = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          const code = buffer.readInt32BE(4);
          if (buffer.length < length) return;
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SslRequest || code === GssRequest) socket.write('N');
          else if (code !== CancelRequest) {
            started = true;
            queue.push({ client, bytes: new Uint8Array(message), socket });
            void run();
          }
          continue;
        }
        if (buffer.length < 5) return;
        const length = buffer.readInt32BE(1) + 1;
        if (buffer.length < length) return;
        const type = buffer[0]!;
        pending.push(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        if (requestEnds.has(type)) {
          queue.push({ client, bytes: new Uint8Array(Buffer.concat(pending)), socket });
          pending = [];
          void run();
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void release(client));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
