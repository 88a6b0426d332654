/*
 * The dashboard page: polls the status and the open dead letters every `refreshMs`, keeps the last
 * few hundred polls in memory for the charts, and renders with DOM nodes and textContent only
 * (partition keys and error messages are data, never markup). The token for retry, discard and
 * rebuild comes
 * from the URL fragment (`#token=...`, never sent to the server in a request line or a log) or the
 * token box; it lives in this tab's sessionStorage and goes out only as a Bearer header.
 */
/* global uPlot */

const historyPoints = 300;
const chartedPartitions = 10;
/** Partitions whose lag history is kept: the most behind of each poll, and those still behind. */
const trackedPerPoll = 50;
const shownPartitions = 200;
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const tokenKey = 'distributary-dashboard-token';

const element = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const keyOf = (p) => `${p.processorId}/${p.partition}`;

const readToken = () => {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  try {
    if (fromFragment) {
      sessionStorage.setItem(tokenKey, fromFragment);
      // Out of the address bar, bookmarks and screenshots.
      window.history.replaceState(null, '', location.pathname + location.search);
      return fromFragment;
    }
    return sessionStorage.getItem(tokenKey) ?? '';
  } catch {
    return fromFragment ?? '';
  }
};

const page = {
  token: readToken(),
  settings: null,
  metric: 'lagEvents',
  /** Seconds since the epoch of each poll, the throughput at it, and per partition key its lag in events and seconds. */
  times: [],
  throughput: [],
  lag: new Map(),
  previous: null,
  latest: null,
  lagChart: null,
  lagChartKeys: '',
  throughputChart: null,
  deadLettersShown: '',
  pollFailed: false,
  requests: 0,
  rendered: 0,
};

// ---- requests

const api = async (path, init = {}) => {
  const response = await fetch(path, { cache: 'no-store', ...init });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
};

const say = (text, isError = false) => {
  const message = element('message');
  message.textContent = text;
  message.classList.toggle('error', isError);
};

// ---- history

const record = (status) => {
  const at = Date.parse(status.takenAt) / 1000;
  const applied = new Map(status.partitions.map((p) => [keyOf(p), p.applied]));
  let rate = null;
  if (page.previous !== null && at > page.previous.at) {
    let delta = 0;
    for (const [key, count] of applied) {
      const before = page.previous.applied.get(key) ?? 0;
      // A new owner counts from zero again.
      delta += count >= before ? count - before : count;
    }
    rate = delta / (at - page.previous.at);
  }
  page.previous = { at, applied };
  page.times.push(at);
  page.throughput.push(rate);

  const byKey = new Map(status.partitions.map((p) => [keyOf(p), p]));
  const leading = new Set(status.partitions.slice(0, trackedPerPoll).map(keyOf));
  for (const key of leading) {
    const before = () => page.times.slice(1).map(() => null);
    if (!page.lag.has(key)) page.lag.set(key, { lagEvents: before(), lagSeconds: before() });
  }
  for (const [key, series] of page.lag) {
    const p = byKey.get(key);
    series.lagEvents.push(p === undefined ? null : p.lagEvents);
    series.lagSeconds.push(p === undefined ? null : p.lagSeconds);
  }

  if (page.times.length > historyPoints) {
    page.times.shift();
    page.throughput.shift();
    for (const series of page.lag.values()) {
      series.lagEvents.shift();
      series.lagSeconds.shift();
    }
  }
  for (const [key, series] of page.lag) if (!leading.has(key) && series.lagEvents.every((v) => !v)) page.lag.delete(key);
  return rate;
};

// ---- charts

const chartWidth = (container) => Math.max(320, container.clientWidth || 600);

const lineChart = (container, labels, data, unit) =>
  new uPlot(
    {
      width: chartWidth(container),
      height: 240,
      scales: { x: { time: true } },
      series: [{}, ...labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 1.5 }))],
      axes: [{}, { label: unit, size: 60 }],
      legend: { live: false },
    },
    data,
    container,
  );

const drawLagChart = () => {
  const metric = page.metric;
  const peak = (key) => Math.max(0, ...page.lag.get(key)[metric].filter((v) => v !== null));
  const keys = [...page.lag.keys()]
    .sort((a, b) => peak(b) - peak(a) || a.localeCompare(b))
    .slice(0, chartedPartitions)
    .sort((a, b) => a.localeCompare(b));
  const data = [page.times.slice(), ...keys.map((key) => page.lag.get(key)[metric].slice())];
  const shape = `${metric}|${keys.join('\n')}`;
  if (page.lagChart !== null && page.lagChartKeys === shape) return page.lagChart.setData(data);
  page.lagChart?.destroy();
  page.lagChart = lineChart(element('lag-chart'), keys, data, metric === 'lagEvents' ? 'events' : 'seconds');
  page.lagChartKeys = shape;
};

const drawThroughputChart = () => {
  const data = [page.times.slice(), page.throughput.slice()];
  if (page.throughputChart !== null) return page.throughputChart.setData(data);
  page.throughputChart = lineChart(element('throughput-chart'), ['events/s'], data, 'events/s');
};

// ---- tables

const cell = (content, className) => {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content);
  else td.textContent = content === null || content === undefined || content === '' ? '–' : String(content);
  if (className) td.className = className;
  return td;
};
const count = (n) => cell(numbers.format(n), 'number');
const badge = (text) => {
  const span = document.createElement('span');
  span.className = `state state-${text.replaceAll(' ', '-')}`;
  span.textContent = text;
  return span;
};
const yesNo = (alive) => badge(alive ? 'alive' : 'dead');
const row = (cells, attributes = {}) => {
  const tr = document.createElement('tr');
  for (const [name, value] of Object.entries(attributes)) tr.setAttribute(name, value);
  tr.append(...cells);
  return tr;
};
const localTime = (iso) => (iso ? new Date(iso).toLocaleString() : '');
/** Actions need a dashboard started with a token, and the token in this page. */
const actionsAllowed = () => page.settings?.actions === true && page.token !== '';

/** A Rebuild button; clicks reach it through its table's listener, so a button redrawn by a poll still works. */
const rebuildButton = (label, processorId, partition) => {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.dataset.testid = partition === null ? 'rebuild-all-button' : 'rebuild-button';
  button.dataset.rebuildProjector = processorId;
  if (partition !== null) button.dataset.rebuildPartition = partition;
  button.setAttribute('aria-label', partition === null ? `Rebuild all of ${processorId}` : `Rebuild ${processorId}/${partition}`);
  button.setAttribute('aria-describedby', 'rebuilds-note');
  button.disabled = !actionsAllowed();
  return button;
};
const megabytes = (bytes) => `${numbers.format(bytes / 1024 / 1024)} MB`;

const renderProjectors = (status, rate) => {
  element('applied-total').textContent = numbers.format(status.projectors.reduce((sum, p) => sum + p.applied, 0));
  element('lag-total').textContent = numbers.format(status.projectors.reduce((sum, p) => sum + p.lagEvents, 0));
  if (rate !== null) element('throughput-now').textContent = numbers.format(rate);
  element('projectors').replaceChildren(
    ...status.projectors.map((p) =>
      row(
        [
          cell(p.processorId),
          count(p.partitions),
          count(p.lagEvents),
          count(p.maxLagSeconds),
          count(p.applied),
          count(p.deadLetters),
          cell(Object.entries(p.states).map(([state, n]) => `${state} ${n}`).join(', ')),
          cell(rebuildButton('Rebuild all', p.processorId, null)),
        ],
        { 'data-testid': 'projector-row', 'data-projector': p.processorId },
      ),
    ),
  );
};

const renderPartitions = (status) => {
  const filter = element('partition-filter').value.trim().toLowerCase();
  const matching = filter === '' ? status.partitions : status.partitions.filter((p) => keyOf(p).toLowerCase().includes(filter));
  const shown = matching.slice(0, shownPartitions);
  element('partitions-note').textContent =
    matching.length > shown.length ? `showing ${shown.length} of ${matching.length}` : `${matching.length} partition${matching.length === 1 ? '' : 's'}`;
  element('partitions').replaceChildren(
    ...shown.map((p) =>
      row(
        [
          cell(p.processorId),
          cell(p.partition),
          cell(badge(p.state)),
          count(p.lagEvents),
          count(p.lagSeconds),
          cell(p.checkpoint, 'number'),
          cell(p.head, 'number'),
          cell(p.owner === null ? null : `${p.owner.hostId} / ${p.owner.thread}`),
          cell(p.owner === null ? null : yesNo(p.owner.alive)),
          count(p.applied),
          count(p.deadLetters),
          cell(rebuildButton('Rebuild', p.processorId, p.partition)),
        ],
        { 'data-testid': 'partition-row', 'data-key': keyOf(p), 'data-state': p.state, 'data-lag-events': String(p.lagEvents), 'data-applied': String(p.applied), ...(p.lastError ? { title: p.lastError } : {}) },
      ),
    ),
  );
};

const renderOwnership = (status) => {
  const hosts = new Map(status.hosts.map((h) => [h.hostId, { alive: h.alive, threads: new Map(Array.from({ length: h.threads }, (_, i) => [i, 0])) }]));
  for (const p of status.partitions) {
    const hostId = p.owner?.hostId ?? 'no owner';
    if (!hosts.has(hostId)) hosts.set(hostId, { alive: p.owner?.alive ?? false, threads: new Map() });
    const threads = hosts.get(hostId).threads;
    const thread = p.owner?.thread ?? -1;
    threads.set(thread, (threads.get(thread) ?? 0) + 1);
  }
  const boxes = [...hosts]
    .filter(([, host]) => host.alive || [...host.threads.values()].some((n) => n > 0))
    .map(([hostId, host]) => {
      const box = document.createElement('section');
      box.className = host.alive ? 'alive' : 'dead';
      box.dataset.testid = 'ownership-host';
      box.dataset.host = hostId;
      const title = document.createElement('h3');
      title.append(`${hostId} `, yesNo(host.alive));
      const list = document.createElement('ul');
      for (const [thread, n] of [...host.threads].sort(([a], [b]) => a - b)) {
        const item = document.createElement('li');
        item.dataset.testid = 'ownership-thread';
        item.textContent = `${thread < 0 ? 'no thread' : `thread ${thread}`}: ${numbers.format(n)} partition${n === 1 ? '' : 's'}`;
        list.append(item);
      }
      box.append(title, list);
      return box;
    });
  element('ownership').replaceChildren(...boxes);
};

const renderHosts = (status) =>
  element('hosts').replaceChildren(
    ...status.hosts.map((h) =>
      row(
        [
          cell(h.hostId),
          cell(h.group),
          cell(h.role),
          cell(h.transport),
          count(h.threads),
          count(h.partitions),
          cell(megabytes(h.rssBytes), 'number'),
          cell(yesNo(h.alive)),
          count(h.heartbeatAgeSeconds),
          cell(localTime(h.startedAt)),
        ],
        { 'data-testid': 'host-row', 'data-host': h.hostId },
      ),
    ),
  );

const renderRelays = (status) =>
  element('relays').replaceChildren(
    ...status.relays.map((r) =>
      row(
        [
          cell(r.app),
          cell(r.hostId),
          cell(r.position, 'number'),
          cell(r.storeHead, 'number'),
          count(r.lagEvents),
          count(r.lagSeconds),
          count(r.streams),
          count(r.published),
          cell(yesNo(r.alive)),
          count(r.heartbeatAgeSeconds),
        ],
        { 'data-testid': 'relay-row', 'data-app': r.app },
      ),
    ),
  );

// ---- dead letters and their actions

const act = async (button, letter, verb, body) => {
  button.disabled = true;
  try {
    await api(`api/dead-letters/${encodeURIComponent(letter.id)}/${verb}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${page.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    say(verb === 'retry' ? `Dead letter ${letter.id} marked for retry; its engine applies it again shortly.` : `Dead letter ${letter.id} discarded.`);
    void refresh();
  } catch (error) {
    say(`Could not ${verb} dead letter ${letter.id}: ${error.message}`, true);
    button.disabled = false;
  }
};

const actionButton = (label, letter, enabled, onClick) => {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.dataset.testid = `${label.toLowerCase()}-button`;
  button.setAttribute('aria-label', `${label} dead letter ${letter.id}`);
  button.setAttribute('aria-describedby', 'actions-note');
  button.disabled = !enabled;
  button.addEventListener('click', onClick);
  return button;
};

const renderDeadLetters = (letters) => {
  const allowed = actionsAllowed();
  const shown = JSON.stringify([letters, allowed]);
  // Left alone when nothing changed, so a focused button keeps its focus between polls.
  if (shown === page.deadLettersShown) return;
  page.deadLettersShown = shown;
  element('actions-note').textContent =
    page.settings === null
      ? ''
      : !page.settings.actions
        ? 'The dashboard was started without a token: retry and discard are disabled.'
        : page.token === ''
          ? 'Enter the token above to retry or discard.'
          : 'Retry applies the event again (a halted partition resumes from it); discard gives up on it, with a reason.';
  element('dead-letters').replaceChildren(
    ...letters.map((letter) => {
      const retry = actionButton('Retry', letter, allowed && (letter.status === 'halted' || letter.status === 'skipped'), (event) =>
        act(event.currentTarget, letter, 'retry', {}),
      );
      const discard = actionButton('Discard', letter, allowed, (event) => {
        const button = event.currentTarget;
        const reason = window.prompt(`Why discard dead letter ${letter.id} (${letter.processorId}/${letter.partition ?? ''} at ${letter.globalPosition})?`);
        if (reason === null) return;
        if (reason.trim() === '') return say('Discarding needs a reason.', true);
        void act(button, letter, 'discard', { reason });
      });
      const actions = document.createDocumentFragment();
      actions.append(retry, discard);
      return row(
        [
          cell(letter.id, 'number'),
          cell(letter.processorId),
          cell(letter.partition),
          cell(letter.globalPosition, 'number'),
          cell(letter.messageType),
          cell(letter.errorMessage, 'error-text'),
          count(letter.attempts),
          cell(badge(letter.status)),
          cell(localTime(letter.lastFailedAt)),
          cell(actions),
        ],
        { 'data-testid': 'dead-letter-row', 'data-id': letter.id, 'data-status': letter.status, 'data-key': `${letter.processorId}/${letter.partition ?? ''}` },
      );
    }),
  );
};

// ---- rebuilds

const progressCell = (rebuild) => {
  if (rebuild.progress === null) return cell(null);
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = rebuild.progress;
  const shown = document.createDocumentFragment();
  shown.append(bar, `${Math.floor(rebuild.progress * 100)}%`);
  return cell(shown, 'number');
};

const renderRebuilds = (rebuilds) => {
  element('rebuilds-note').textContent =
    page.settings === null
      ? ''
      : !page.settings.actions
        ? 'The dashboard was started without a token: rebuilding is disabled.'
        : page.token === ''
          ? 'Enter the token above to rebuild.'
          : "Rebuild (on a partition) deletes its rows through the projector's truncatePartition and applies its events again while the others keep running; " +
            "Rebuild all (on a projector) empties its read models and applies every event again. Until done, what is rebuilt is incomplete. Progress counts store positions up to the head when it started.";
  element('rebuilds').replaceChildren(
    ...rebuilds.map((r) =>
      row(
        [
          cell(r.id, 'number'),
          cell(r.processorId),
          cell(r.partition ?? 'all partitions'),
          cell(badge(r.status)),
          progressCell(r),
          cell(localTime(r.requestedAt)),
          cell(localTime(r.finishedAt)),
          r.status === 'done' || r.status === 'failed' ? count(r.replayed) : cell(null),
          cell(r.error, 'error-text'),
        ],
        {
          'data-testid': 'rebuild-row',
          'data-id': r.id,
          'data-key': r.partition === null ? r.processorId : `${r.processorId}/${r.partition}`,
          'data-status': r.status,
          'data-progress': r.progress === null ? '' : String(r.progress),
        },
      ),
    ),
  );
};

const askForRebuild = async (button) => {
  const processorId = button.dataset.rebuildProjector;
  const partition = button.dataset.rebuildPartition ?? null;
  const target = partition === null ? `${processorId} (all partitions)` : `${processorId}/${partition}`;
  const question =
    partition === null
      ? `Rebuild all of ${processorId}? Its read models are emptied and every event applied again; until done they are incomplete.`
      : `Rebuild ${processorId}/${partition}? Its rows are deleted and its events applied again; until done they are incomplete.`;
  if (!window.confirm(question)) return;
  button.disabled = true;
  try {
    const { id } = await api('api/rebuilds', {
      method: 'POST',
      headers: { Authorization: `Bearer ${page.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(partition === null ? { processorId } : { processorId, partition }),
    });
    say(`Rebuild ${id} of ${target} requested; the host reading the store for ${processorId} starts it shortly.`);
    void refresh();
  } catch (error) {
    say(`Could not rebuild ${target}: ${error.message}`, true);
    button.disabled = false;
  }
};

const onRebuildClick = (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-rebuild-projector]') : null;
  if (button !== null && !button.disabled) void askForRebuild(button);
};

// ---- polling

const showTokenState = () => {
  element('token-state').textContent = page.token === '' ? 'no token' : 'token set';
};

const refresh = async () => {
  const request = ++page.requests;
  try {
    page.settings ??= await api('api/settings');
    element('refresh').textContent = `${numbers.format(page.settings.refreshMs / 1000)} s`;
    const [status, letters] = await Promise.all([api('api/status'), api('api/dead-letters')]);
    // A refresh after an action may overtake the poll: never draw an older answer over a newer one.
    if (request < page.rendered) return;
    page.rendered = request;
    const rate = record(status);
    const taken = element('taken-at');
    taken.dateTime = status.takenAt;
    taken.textContent = new Date(status.takenAt).toLocaleTimeString();
    renderProjectors(status, rate);
    renderPartitions(status);
    renderDeadLetters(letters);
    renderRebuilds(status.rebuilds ?? []);
    renderOwnership(status);
    renderHosts(status);
    renderRelays(status);
    drawLagChart();
    drawThroughputChart();
    page.latest = status;
    if (page.pollFailed) say('');
    page.pollFailed = false;
  } catch (error) {
    page.pollFailed = true;
    say(`Could not refresh: ${error.message}`, true);
  }
};

const poll = async () => {
  await refresh();
  setTimeout(poll, page.settings?.refreshMs ?? 2000);
};

element('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = element('token');
  page.token = input.value.trim();
  input.value = '';
  try {
    sessionStorage.setItem(tokenKey, page.token);
  } catch {
    // Kept in memory for this page only.
  }
  showTokenState();
  page.deadLettersShown = '';
  void refresh();
});
element('projectors').addEventListener('click', onRebuildClick);
element('partitions').addEventListener('click', onRebuildClick);
element('lag-metric').addEventListener('change', (event) => {
  page.metric = event.currentTarget.value;
  drawLagChart();
});
element('partition-filter').addEventListener('input', () => page.latest && renderPartitions(page.latest));
window.addEventListener('resize', () => {
  for (const [chart, id] of [[page.lagChart, 'lag-chart'], [page.throughputChart, 'throughput-chart']])
    chart?.setSize({ width: chartWidth(element(id)), height: 240 });
});

showTokenState();
void poll();
