/**
 * Real network parts for revocation tests: a counting HTTP file server, `openssl ocsp` responders and a server
 * that never answers.
 *
 *   const files = await serveFiles(t);
 *   files.set('/ca.crl', ca.crlDer());           // bytes, or a handler (body) => bytes for POSTs
 *   files.url('/ca.crl'); files.count('/ca.crl'); // requests seen per path
 *   const responder = await startOcspResponder(t, ca, { signer: ca.ocspSigner() });
 *   responder.url; await responder.restart();      // e.g. after ca.revoke(leaf)
 *   const silent = await silentServer(t);          // silent.url accepts connections and never answers
 *   crlWithExtensions(ca, ['2.5.29.27 = critical, ASN1:INTEGER:999']); // a CRL with extra (here: delta) extensions
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { SM2_DEFAULT_USER_ID } from '../../src/pki/gm-engine.ts';
import type { TestCa, TestKeyHolder } from './test-pki.ts';
import { freePort } from './runtime.ts';

type Teardown = { teardown(fn: () => unknown): void };

export type Route = Uint8Array | ((body: Uint8Array) => Uint8Array | Promise<Uint8Array>);

export type FileServer = {
  url(path: string): string;
  set(path: string, route: Route): void;
  /** How many requests reached `path` (whatever the answer). */
  count(path: string): number;
};

async function readBody(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/** A real HTTP server on 127.0.0.1 answering each path with its current bytes (404 for unknown paths). */
export async function serveFiles(t: Teardown): Promise<FileServer> {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const server = createHttpServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const body = await readBody(request);
    const route = routes.get(path);
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    try {
      const bytes = typeof route === 'function' ? await route(body) : route;
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.byteLength }).end(bytes);
    } catch (error) {
      response.writeHead(502).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as { port: number };
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, route) => void routes.set(path, route),
    count: (path) => counts.get(path) ?? 0,
  };
}

/**
 * Waits for the "ACCEPT" line `openssl ocsp` prints (on stdout) once it listens. (Probing the port with a connection would
 * block the single-threaded responder on that empty connection until its -timeout.)
 */
function waitForAccept(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (/^ACCEPT /m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`openssl ocsp exited with ${code}: ${output}`));
    });
  });
}

export type OcspResponderOptions = {
  /** The responder certificate and key (default: the CA itself signs). */
  signer?: Pick<TestKeyHolder, 'certFile' | 'keyFile' | 'keyType'>;
  /** Minutes until nextUpdate (default 5); null leaves nextUpdate out. */
  nextUpdateMinutes?: number | null;
  /** Another index than the CA's own, e.g. a copy taken earlier so later certificates stay unknown to it. */
  indexFile?: string;
  extraArgs?: string[];
};

export type OcspResponder = {
  url: string;
  /**
   * Starts the process again. OpenSSL 3.0 re-reads a changed index only now and then (it compares mtimes in whole
   * seconds), so restart after issuing or revoking when a test depends on the responder knowing it.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * A real `openssl ocsp` responder for `ca` (its index.txt), listening on a free port until the test ends.
 * SM2 signers sign with SM3 and the GM/T 0009 default ID.
 */
export async function startOcspResponder(t: Teardown, ca: TestCa, options: OcspResponderOptions = {}): Promise<OcspResponder> {
  const signer = options.signer ?? ca;
  const port = await freePort();
  const args = [
    'ocsp', '-index', options.indexFile ?? ca.indexFile, '-port', String(port), '-CA', ca.certFile,
    '-rsigner', signer.certFile, '-rkey', signer.keyFile, '-ignore_err', '-timeout', '5',
    ...(options.nextUpdateMinutes === null ? [] : ['-nmin', String(options.nextUpdateMinutes ?? 5)]),
    ...(signer.keyType === 'sm2' ? ['-rmd', 'sm3', '-rsigopt', `distid:${SM2_DEFAULT_USER_ID}`] : []),
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;

  async function stop(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  }

  async function start(): Promise<void> {
    const started = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    await waitForAccept(started);
  }

  t.teardown(stop);
  await start();
  return {
    url: `http://127.0.0.1:${port}/`,
    stop,
    async restart() {
      await stop();
      await start();
    },
  };
}

/** A TCP server that accepts connections and never sends a byte. */
export async function silentServer(t: Teardown): Promise<{ url: string; connections(): number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, connections: () => accepted };
}

let extraCrlConfigs = 0;

/** A CRL of `ca` (its index, 24 h) carrying extra extensions, given as OpenSSL config lines (sections may follow). */
export function crlWithExtensions(ca: TestCa, lines: string[]): Uint8Array {
  const config = join(ca.dir, `crl-extensions-${++extraCrlConfigs}.cnf`);
  writeFileSync(config, `${readFileSync(ca.configFile, 'utf8')}\n[ extra_crl_ext ]\nauthorityKeyIdentifier = keyid:always\n${lines.join('\n')}\n`);
  const out = `${config}.crl`;
  const sm2 = ca.keyType === 'sm2' ? ['-md', 'sm3', '-sigopt', `distid:${SM2_DEFAULT_USER_ID}`] : [];
  execFileSync('openssl', ['ca', '-batch', '-config', config, '-gencrl', '-crlexts', 'extra_crl_ext', ...sm2, '-out', out], { stdio: 'pipe' });
  return new Uint8Array(execFileSync('openssl', ['crl', '-in', out, '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'pipe'] }));
}
