// rawserve --live-reload: reloads this page when a file it may depend on
// changes, or swaps changed stylesheets in place. One tab per origin holds
// the event stream (browsers allow 6 connections per host over HTTP/1.1)
// and tells the others; the server sends `css` or `reload` events.
(() => {
  const channel = 'BroadcastChannel' in self ? new BroadcastChannel('rawserve-live') : null;
  const decoded = p => { try { return decodeURIComponent(p); } catch { return p; } };
  const replaced = new WeakSet();
  const swap = data => {
    const wanted = data.split('\n').map(decoded);
    const links = [...document.querySelectorAll('link[rel~="stylesheet" i][href]')]
      .filter(l => !replaced.has(l) && new URL(l.href).origin === location.origin);
    const path = l => decoded(new URL(l.href).pathname);
    let hits = links.filter(l => wanted.some(w => path(l).endsWith(w)));
    if (!hits.length) hits = links;
    for (const old of hits) {
      const url = new URL(old.href);
      url.searchParams.set('rawserve-live', Date.now());
      const fresh = old.cloneNode();
      fresh.removeAttribute('integrity');
      fresh.href = url.href;
      fresh.onload = fresh.onerror = () => old.remove();
      replaced.add(old);
      old.after(fresh);
    }
  };
  // The id of the change a reload is for, kept in this tab across the
  // reload: the new page's stream says it (`?last=`), so a change made
  // while the page was loading, before its stream was open, still
  // reloads it.
  const KEY = 'rawserve-live-last';
  const remember = id => { try { if (id) sessionStorage.setItem(KEY, id); } catch {} };
  const recalled = () => {
    try {
      const id = sessionStorage.getItem(KEY);
      sessionStorage.removeItem(KEY);
      return id ? '?last=' + encodeURIComponent(id) : '';
    } catch { return ''; }
  };
  const act = (type, data, id) => {
    if (type === 'css') return swap(data);
    remember(id);
    location.reload();
  };
  if (channel) channel.onmessage = e => act(e.data.type, e.data.data, e.data.id);
  const listen = () => new Promise(() => {
    const source = new EventSource('/.rawserve/live' + recalled());
    for (const type of ['css', 'reload']) {
      source.addEventListener(type, e => {
        if (channel) channel.postMessage({ type, data: e.data, id: e.lastEventId });
        act(type, e.data, e.lastEventId);
      });
    }
  });
  if (channel && navigator.locks) navigator.locks.request('rawserve-live', listen);
  else listen();
})();
