// bench.mjs - haechi's release engine against BullMQ delayed jobs, on one
// redis-server, in one run (make bench). Loopback only; bounded in count
// and time.
//
// Workloads (the release-engine issue):
//   precision  1,000 one-shot releases spread over 10 s: lateness
//              (fire time - due time) p50, p99, max
//   burst      100,000 releases due at one instant: time until all their
//              work items are queued, and releases per second
//   worker     20,000 work items through one `haechi serve --roles worker`
//              on the log adapter, against one BullMQ Worker with a no-op
//              processor: items per second, from the first send (job) to
//              the last
// haechi: a `haechi serve --roles scheduler` process started fresh for each
// workload; "fire time" is the Redis stream entry id's millisecond (when
// Redis appended the work item), so the measure is Redis's, not ours.
// Releases are armed through the engine's own haechi_arm function.
// BullMQ: delayed jobs and a Worker recording when each job starts.
//
// Usage: node bench.mjs SOCKET HAECHI_BIN OUT_DIR

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');
const BULLMQ_VERSION = require('bullmq/package.json').version;

const [sock, haechiBin, outDir] = process.argv.slice(2);
const PRECISION_N = 1000;
const PRECISION_SPAN_MS = 10000;
const BURST_N = 100000;
const PER_CAMPAIGN = 1000;
const DEADLINE_MS = 120000;
const WORKER_N = 20000;
const BULL_CONCURRENCY = 100;
const EXAMPLE = new URL('../../campaigns/jamsi-meomchum.json', import.meta.url);

const redis = new IORedis({ path: sock, maxRetriesPerRequest: null });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

async function until(what, fn, limitMs = DEADLINE_MS) {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---- haechi ----------------------------------------------------------------

function startScheduler(prefix, roles = 'scheduler') {
  const cfgPath = path.join(outDir, `${prefix}.json`);
  const cfg = { redis: { address: `unix:${sock}`, prefix } };
  if (process.env.BENCH_BATCH) cfg.engine = { claim_batch: Number(process.env.BENCH_BATCH) };
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const child = spawn(haechiBin, ['serve', '--roles', roles, '--config', cfgPath],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

async function functionsLoaded() {
  await until('haechi to load its functions', async () => {
    const libs = await redis.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'haechi_engine_v1');
    return libs.length > 0;
  }, 10000);
}

// Every entry of STREAM, in pages.
async function xrangeAll(stream) {
  const entries = [];
  let cursor = '-';
  for (;;) {
    const page = await redis.xrange(stream, cursor, '+', 'COUNT', 10000);
    if (!page.length) break;
    entries.push(...page);
    const [ms, seq] = page[page.length - 1][0].split('-');
    cursor = `${ms}-${Number(seq) + 1}`;
    if (page.length < 10000) break;
  }
  return entries;
}

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function stopScheduler(child) {
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

// Arms synthetic campaigns through haechi_arm: releases[i] is a due time (ms)
// of one one-shot release on channel sns.
async function arm(prefix, campaignId, dues) {
  const p = `${prefix}:{e}:`;
  const args = [campaignId, '1', 'scheduled', 'UTC', p, '0', String(dues.length)];
  dues.forEach((due, i) => args.push(`r${i}`, 'sns:86400000', '1', String(due)));
  await redis.call('FCALL', 'haechi_arm', '3', `${p}camp:${campaignId}`, `${p}due`,
    `${p}armed`, ...args);
}

async function haechiRun(prefix, dues, campaigns) {
  const child = startScheduler(prefix);
  const stream = `${prefix}:{e}:q:sns`;
  try {
    // The scheduler loads the engine's functions when it connects.
    await functionsLoaded();
    const per = Math.ceil(dues.length / campaigns);
    for (let c = 0; c < campaigns; c++)
      await arm(prefix, `bench-${c}`, dues.slice(c * per, (c + 1) * per));
    await until('all work items', async () => (await redis.xlen(stream)) >= dues.length);
    const rss = peakRssMb(child.pid);
    const entries = await xrangeAll(stream);
    const fired = entries.map(([id, fields]) => {
      const item = fields[fields.indexOf('item') + 1];
      const due = Number(item.split('|')[2]);
      return { fired: Number(id.split('-')[0]), due };
    });
    return { fired, rss };
  } finally {
    await stopScheduler(child);
  }
}

async function haechiPrecision() {
  const t0 = Date.now() + 3000;
  const dues = Array.from({ length: PRECISION_N }, (_, i) => t0 + Math.floor(i * PRECISION_SPAN_MS / PRECISION_N));
  const { fired, rss } = await haechiRun('bench-hp', dues, 10);
  const late = fired.map((f) => f.fired - f.due).sort((a, b) => a - b);
  if (process.env.BENCH_HIST) {
    const hist = {};
    late.forEach((l) => { hist[l] = (hist[l] || 0) + 1; });
    console.error(JSON.stringify(hist));
  }
  return { p50: percentile(late, 50), p99: percentile(late, 99), max: late[late.length - 1],
    min: late[0], n: late.length, rss };
}

async function haechiBurst() {
  const at = Date.now() + 8000;
  const dues = new Array(BURST_N).fill(at);
  const { fired, rss } = await haechiRun('bench-hb', dues, BURST_N / PER_CAMPAIGN);
  if (Date.now() < at) throw new Error('burst armed too slowly');
  const last = Math.max(...fired.map((f) => f.fired));
  const first = Math.min(...fired.map((f) => f.fired));
  const ms = Math.max(1, last - at);
  return { n: fired.length, ms, firstLateMs: first - at, perSecond: (BURST_N * 1000) / ms, rss };
}

// Work items straight onto the sns stream of a campaign that is armed (so
// the worker's haechi_begin finds it scheduled) and stored (so it finds
// its document), as a claim would queue them; the worker's time is from
// its first send to its last, read off the log adapter's stream entry ids
// (Redis's clock), so start-up and the feed are not counted.
async function haechiWorker() {
  const prefix = 'bench-hw';
  const p = `${prefix}:{e}:`;
  const id = 'bench-w';
  const doc = JSON.parse(readFileSync(EXAMPLE, 'utf8'));
  delete doc.$schema;
  for (const ch of ['kakao', 'banner', 'newsletter', 'alert']) delete doc[ch];
  doc.id = id;
  doc.schedule.releases = [{ id: 'go', at: `${doc.schedule.start}T09:00`, channels: ['sns'] }];
  await redis.hset(`${prefix}:{c:${id}}:versions`, '1', JSON.stringify(doc));
  const child = startScheduler(prefix, 'worker');
  try {
    await functionsLoaded();
    // One release a year ahead: no scheduler runs, it only makes camp:ID.
    await arm(prefix, id, [Date.now() + 365 * 86400000]);
    const base = Date.now();
    for (let i = 0; i < WORKER_N; i += 5000) {
      const batch = redis.pipeline();
      for (let k = i; k < Math.min(WORKER_N, i + 5000); k++) {
        const due = String(base + k);
        batch.xadd(`${p}q:sns`, '*', 'item', `${id}|go|${due}|sns`, 'version', '1', 'fired', due,
          'attempt', '1', 'target', 'all', 'tz', 'UTC', 'quiet', '');
      }
      await batch.exec();
    }
    await until('the worker to send every item', async () =>
      (await redis.xlen(`${p}log`)) >= WORKER_N && (await redis.xlen(`${p}q:sns`)) === 0);
    const rss = peakRssMb(child.pid);
    const sends = (await xrangeAll(`${p}log`)).map(([eid]) => Number(eid.split('-')[0]));
    const ms = Math.max(1, sends[sends.length - 1] - sends[0]);
    return { n: sends.length, ms, perSecond: ((sends.length - 1) * 1000) / ms, rss };
  } finally {
    await stopScheduler(child);
  }
}

// ---- BullMQ ----------------------------------------------------------------

async function bullRun(name, dues, concurrency) {
  const connection = { path: sock, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection, prefix: 'bench-bull' });
  await queue.obliterate({ force: true }).catch(() => {});
  const started = [];
  const worker = new Worker(name, async (job) => {
    started.push({ at: Date.now(), due: job.data.due });
  }, { connection, prefix: 'bench-bull', concurrency, autorun: true,
       removeOnComplete: { count: 0 } });
  await worker.waitUntilReady();
  const now = Date.now();
  for (let i = 0; i < dues.length; i += 5000) {
    await queue.addBulk(dues.slice(i, i + 5000).map((due, k) => ({
      name: 'r', data: { due }, opts: { delay: Math.max(0, due - now), jobId: `j${i + k}`,
        removeOnComplete: true } })));
  }
  await until(`BullMQ ${name}`, async () => started.length >= dues.length);
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  return started;
}

async function bullPrecision() {
  const t0 = Date.now() + 3000;
  const dues = Array.from({ length: PRECISION_N }, (_, i) => t0 + Math.floor(i * PRECISION_SPAN_MS / PRECISION_N));
  const started = await bullRun('precision', dues, 100);
  const late = started.map((s) => s.at - s.due).sort((a, b) => a - b);
  return { p50: percentile(late, 50), p99: percentile(late, 99), max: late[late.length - 1],
    n: late.length };
}

async function bullBurst() {
  const at = Date.now() + 15000;
  const dues = new Array(BURST_N).fill(at);
  const started = await bullRun('burst', dues, 100);
  const last = Math.max(...started.map((s) => s.at));
  const ms = Math.max(1, last - at);
  return { n: started.length, ms, perSecond: (BURST_N * 1000) / ms };
}

// The same count of jobs, all waiting before the Worker starts; its
// processor only notes the time.
async function bullWorker() {
  const connection = { path: sock, maxRetriesPerRequest: null };
  const queue = new Queue('throughput', { connection, prefix: 'bench-bull' });
  await queue.obliterate({ force: true }).catch(() => {});
  for (let i = 0; i < WORKER_N; i += 5000) {
    await queue.addBulk(Array.from({ length: Math.min(5000, WORKER_N - i) }, (_, k) => ({
      name: 'w', data: { i: i + k }, opts: { jobId: `w${i + k}`, removeOnComplete: true } })));
  }
  const started = [];
  const worker = new Worker('throughput', async () => { started.push(Date.now()); },
    { connection, prefix: 'bench-bull', concurrency: BULL_CONCURRENCY, autorun: true });
  await until('BullMQ throughput', async () => started.length >= WORKER_N);
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  const ms = Math.max(1, started[started.length - 1] - started[0]);
  return { n: started.length, ms, perSecond: ((started.length - 1) * 1000) / ms };
}

// ---- report ----------------------------------------------------------------

function fmt(v, digits = 1) {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

async function main() {
  const info = await redis.info('server');
  const redisVersion = (info.match(/redis_version:(\S+)/) || [])[1];
  const machine = `${os.cpus().length} x ${os.cpus()[0].model.trim()}, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, ` +
    `redis ${redisVersion} (unix socket), node ${process.version}, BullMQ ${BULLMQ_VERSION}`;

  await redis.flushall();
  if (process.env.BENCH_ONLY === 'worker') {
    const hw = await haechiWorker();
    await redis.flushall();
    const bw = await bullWorker();
    console.log(JSON.stringify({ hw, bw, ratio: hw.perSecond / bw.perSecond }));
    await redis.quit();
    return;
  }
  if (process.env.BENCH_ONLY) {
    const r = process.env.BENCH_ONLY === 'burst' ? await haechiBurst() : await haechiPrecision();
    console.log(JSON.stringify(r));
    await redis.quit();
    return;
  }
  const hp = await haechiPrecision();
  const bp = await bullPrecision();
  await redis.flushall();
  const hb = await haechiBurst();
  await redis.flushall();
  const bb = await bullBurst();
  await redis.flushall();
  const hw = await haechiWorker();
  await redis.flushall();
  const bw = await bullWorker();
  await redis.flushall();

  const rows = [
    ['precision: lateness p50 (ms)', hp.p50, bp.p50],
    ['precision: lateness p99 (ms)', hp.p99, bp.p99],
    ['precision: lateness max (ms)', hp.max, bp.max],
    ['burst: due -> all queued (ms)', hb.ms, bb.ms],
    ['burst: releases per second', hb.perSecond, bb.perSecond],
    ['worker: first -> last send (ms)', hw.ms, bw.ms],
    ['worker: items per second', hw.perSecond, bw.perSecond],
  ];
  const lines = [];
  lines.push(`machine: ${machine}`);
  lines.push(`precision: ${PRECISION_N} one-shot releases over ${PRECISION_SPAN_MS / 1000} s; ` +
    `burst: ${BURST_N} releases due at one instant; worker: ${WORKER_N} items, haechi's ` +
    `worker (worker_concurrency 64, log adapter) vs a BullMQ Worker (concurrency ` +
    `${BULL_CONCURRENCY}, no-op processor)`);
  lines.push('');
  lines.push('| measure | haechi | BullMQ | haechi/BullMQ |');
  lines.push('|---|---:|---:|---:|');
  for (const [name, h, b] of rows)
    lines.push(`| ${name} | ${fmt(h)} | ${fmt(b)} | ${fmt(h / b, 3)} |`);
  lines.push(`| scheduler peak RSS, burst (MB) | ${fmt(hb.rss)} | - | - |`);
  lines.push(`| worker peak RSS (MB) | ${fmt(hw.rss)} | - | - |`);
  lines.push('');
  const targets = [
    ['lateness p99 <= 5 ms', hp.p99 <= 5],
    ['lateness max <= 20 ms', hp.max <= 20],
    ['burst >= 5x BullMQ', hb.perSecond >= 5 * bb.perSecond],
    ['scheduler RSS <= 32 MB', hb.rss <= 32],
  ];
  lines.push('targets: ' + targets.map(([t, ok]) => `${t}: ${ok ? 'met' : 'NOT met'}`).join('; '));
  const text = lines.join('\n');
  console.log(text);
  writeFileSync(path.join(outDir, 'results.md'), text + '\n');
  writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ machine, hp, bp, hb, bb, hw, bw }, null, 2));
  await redis.quit();
}

main().catch(async (e) => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
  await redis.quit().catch(() => {});
});
