/**
 * The page's stylesheet: a light, Feishu-like group chat (grey canvas, white cards with a
 * tinted header, blue for the visitor's own messages). Two columns from 960 px; below, the
 * shared-folder panel becomes a drawer. No web fonts: the system's CJK font is used.
 */
export const PAGE_CSS = String.raw`
:root {
  --bg: #f2f3f5; --panel: #fff; --line: #dee0e3; --text: #1f2329; --muted: #646a73; --faint: #8f959e;
  --blue: #3370ff; --blue-dark: #245bdb; --own: #d6e4ff; --red: #d83931; --green: #2ea121; --orange: #de7802;
  --radius: 10px; --font: -apple-system, BlinkMacSystemFont, "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans",
    "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono CJK SC",
    monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 14px/1.5 var(--font); color: var(--text); background: var(--bg); -webkit-text-size-adjust: 100%; }
button, input, select, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--blue); outline-offset: 2px; }
[hidden] { display: none !important; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.skip { position: absolute; left: 8px; top: -48px; z-index: 30; background: var(--panel); padding: 8px 12px; border-radius: 6px; }
.skip:focus { top: 8px; }

.app { display: grid; grid-template-columns: minmax(0, 1fr) 400px; grid-template-rows: auto minmax(0, 1fr); height: 100vh; height: 100dvh; }
.topbar { grid-column: 1 / -1; display: flex; align-items: center; gap: 10px; padding: 8px 16px; background: var(--panel); border-bottom: 1px solid var(--line); min-width: 0; }
.group-avatar { flex: none; width: 36px; height: 36px; border-radius: 8px; background: linear-gradient(135deg, #3370ff, #7f3bf5); color: #fff; font-weight: 700; font-size: 13px; display: grid; place-items: center; }
.group-info { min-width: 0; flex: 1; }
.group-name { margin: 0; font-size: 16px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.group-sub { margin: 0; color: var(--muted); font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.live { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.live-dot { width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.live[data-state="open"] .live-dot { background: var(--green); }
.live[data-state="closed"] .live-dot { background: var(--orange); }
.tb-btn { flex: none; border: 1px solid var(--line); background: var(--panel); border-radius: 6px; padding: 4px 10px; cursor: pointer; min-height: 32px; }
.tb-btn:hover { background: #f5f6f7; }
.files-toggle { display: none; }
.files-toggle[data-news]::after { content: ""; display: inline-block; width: 7px; height: 7px; margin-left: 6px; border-radius: 50%; background: var(--orange); vertical-align: middle; }
.narrow { display: none; }

.chat { grid-column: 1; grid-row: 2; display: flex; flex-direction: column; min-height: 0; position: relative; }
.scroller { flex: 1; overflow-y: auto; overscroll-behavior: contain; padding: 16px 16px 8px; }
.empty { margin: 24px auto; max-width: 420px; text-align: center; color: var(--muted); }
.messages { list-style: none; margin: 0 auto; padding: 0; max-width: 880px; display: flex; flex-direction: column; gap: 14px; }
.msg { display: flex; gap: 10px; align-items: flex-start; min-width: 0; }
.avatar { flex: none; width: 36px; height: 36px; border-radius: 50%; display: grid; place-items: center; color: #fff; font-weight: 600; font-size: 14px; background: #8f959e; user-select: none; }
.avatar[data-role="bridge"] { background: #3370ff; border-radius: 10px; }
.avatar[data-role="node-bot"], .avatar[data-role="bot"] { background: #7f3bf5; border-radius: 10px; }
.avatar[data-role="visitor"] { background: #14a9a2; }
.msg-main { min-width: 0; flex: 1; display: flex; flex-direction: column; align-items: flex-start; gap: 4px; }
.msg-meta { display: flex; align-items: baseline; gap: 6px; font-size: 12px; color: var(--muted); max-width: 100%; }
.msg-name { font-weight: 500; color: var(--text); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.badge { font-size: 11px; line-height: 16px; padding: 0 5px; border-radius: 4px; background: #e1eaff; color: var(--blue-dark); white-space: nowrap; }
.badge-relay { background: #eff0f1; color: var(--muted); }
.msg-time { color: var(--faint); }
.bubble { background: var(--panel); border: 1px solid var(--line); border-radius: 4px var(--radius) var(--radius) var(--radius); padding: 8px 12px; max-width: min(640px, 100%); white-space: pre-wrap; overflow-wrap: anywhere; }
.mention { color: var(--blue); font-weight: 500; }
.quote { font-size: 12px; color: var(--muted); border-left: 2px solid var(--line); padding-left: 8px; max-width: min(640px, 100%); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.msg--own { flex-direction: row-reverse; }
.msg--own .msg-main { align-items: flex-end; }
.msg--own .msg-meta { flex-direction: row-reverse; }
.msg--own .bubble { background: var(--own); border-color: #c2d6ff; border-radius: var(--radius) 4px var(--radius) var(--radius); }
.msg--audit .bubble { background: #f7f8fa; color: var(--muted); font-size: 13px; border-style: dashed; }
.relay-pair { font-family: var(--mono); font-size: 12px; color: var(--text); background: #eff0f1; border-radius: 4px; padding: 0 4px; margin-right: 6px; white-space: nowrap; }

.card { width: min(480px, 100%); background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); overflow: hidden; box-shadow: 0 1px 2px rgba(31, 35, 41, .06); }
.card-header { padding: 10px 14px; font-weight: 600; font-size: 15px; background: #fff; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.card-body { padding: 12px 14px; display: flex; flex-direction: column; gap: 8px; }
.card-text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.card-text.notation { font-size: 12px; }
.card-text.card-output { font-family: var(--mono); font-size: 12.5px; background: #f7f8fa; border-radius: 6px; padding: 8px 10px; }
.card hr { border: 0; border-top: 1px solid var(--line); margin: 2px 0; width: 100%; }
.card-unsupported { font-size: 12px; color: var(--faint); }
.card-actions { display: flex; flex-wrap: wrap; gap: 8px; }
.card[aria-busy="true"] { opacity: .7; }
.hd-blue { background: #e1eaff; } .hd-wathet { background: #e0f4ff; } .hd-turquoise { background: #d5f6f2; }
.hd-green { background: #d9f5d6; } .hd-yellow { background: #fff6c2; } .hd-orange { background: #feead2; }
.hd-red { background: #fde2e2; } .hd-carmine { background: #fddde8; } .hd-violet { background: #ece2fe; }
.hd-purple { background: #efdcfb; } .hd-indigo { background: #e0e3ff; } .hd-grey { background: #eff0f1; }
.tc-grey { color: var(--muted); } .tc-red { color: var(--red); } .tc-orange { color: var(--orange); }
.tc-green { color: var(--green); } .tc-blue { color: var(--blue); }
.btn { border: 1px solid #d0d3d6; background: var(--panel); border-radius: 6px; padding: 5px 14px; min-height: 34px; cursor: pointer; }
.btn:hover { background: #f5f6f7; }
.btn:disabled { cursor: default; opacity: .6; }
.btn-primary { color: var(--blue); border-color: var(--blue); }
.btn-danger { color: var(--red); border-color: #f7a8a5; }
.btn-primary_filled { background: var(--blue); border-color: var(--blue); color: #fff; }
.btn-primary_filled:hover { background: var(--blue-dark); }
.btn-fill { width: 100%; }
.card-form { display: flex; flex-direction: column; gap: 8px; }
.field-label { font-size: 12px; color: var(--muted); }
.field { width: 100%; border: 1px solid #d0d3d6; border-radius: 6px; padding: 7px 9px; background: #fff; }
textarea.field { resize: vertical; min-height: 72px; }

.jump { position: absolute; right: 24px; bottom: 150px; border: 0; border-radius: 16px; padding: 6px 14px; background: var(--blue); color: #fff; box-shadow: 0 2px 8px rgba(0, 0, 0, .15); cursor: pointer; }
.composer { background: var(--panel); border-top: 1px solid var(--line); padding: 8px 16px 10px; padding-bottom: max(10px, env(safe-area-inset-bottom)); }
.try { display: flex; align-items: center; gap: 8px; margin: 0 auto 6px; max-width: 880px; }
.try-label { color: var(--muted); font-size: 12px; flex: none; }
.try-chips { display: flex; gap: 6px; overflow-x: auto; scrollbar-width: none; padding: 2px; }
.chip { flex: none; border: 1px solid var(--line); background: #f7f8fa; border-radius: 14px; padding: 2px 10px; font-size: 12px; font-family: var(--mono); cursor: pointer; white-space: nowrap; min-height: 28px; }
.chip:hover { border-color: var(--blue); color: var(--blue); }
.composer-box { position: relative; display: flex; gap: 8px; align-items: flex-end; max-width: 880px; margin: 0 auto; }
.composer-input { flex: 1; min-width: 0; resize: none; border: 1px solid #d0d3d6; border-radius: 8px; padding: 8px 10px; max-height: 180px; line-height: 1.45; background: #fff; }
.composer-input:focus { border-color: var(--blue); outline: none; box-shadow: 0 0 0 2px rgba(51, 112, 255, .2); }
.send { flex: none; border: 0; border-radius: 8px; padding: 0 18px; min-height: 38px; background: var(--blue); color: #fff; font-weight: 500; cursor: pointer; }
.send:hover { background: var(--blue-dark); }
.send:disabled { opacity: .5; cursor: default; }
.hint { margin: 4px auto 0; max-width: 880px; font-size: 12px; color: var(--faint); }
.mention-list { position: absolute; left: 0; bottom: calc(100% + 6px); z-index: 5; list-style: none; margin: 0; padding: 4px; width: min(340px, 100%); background: #fff; border: 1px solid var(--line); border-radius: 8px; box-shadow: 0 6px 20px rgba(31, 35, 41, .15); }
.mention-option { display: flex; align-items: center; gap: 8px; padding: 6px 8px; border-radius: 6px; cursor: pointer; }
.mention-option .avatar { width: 26px; height: 26px; font-size: 12px; }
.mention-option[aria-selected="true"] { background: #e1eaff; }
.mention-hint { color: var(--muted); font-size: 12px; margin-left: auto; }

.files { grid-column: 2; grid-row: 2; background: var(--panel); border-left: 1px solid var(--line); overflow-y: auto; padding: 12px 14px 24px; min-width: 0; }
.files-head { display: flex; align-items: center; justify-content: space-between; }
.files-head h2 { margin: 0; font-size: 15px; }
.files-close { display: none; border: 0; background: none; font-size: 22px; line-height: 1; width: 36px; height: 36px; border-radius: 6px; cursor: pointer; }
.files-hint { margin: 4px 0; color: var(--muted); font-size: 12px; }
.files-root { margin: 0 0 10px; font-size: 11px; color: var(--faint); overflow-wrap: anywhere; }
.nodes h3 { margin: 8px 0 6px; font-size: 13px; color: var(--muted); font-weight: 500; }
.node-list { list-style: none; margin: 0 0 12px; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
.node { border: 1px solid var(--line); border-radius: 6px; padding: 3px 8px; font-size: 12px; }
.node-name { font-family: var(--mono); font-weight: 600; }
.node-kind, .node-tags { color: var(--muted); }
.files-empty { color: var(--muted); font-size: 13px; }
.file-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.file { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.file summary { display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 8px; padding: 6px 10px; cursor: pointer; background: #f7f8fa; list-style: none; }
.file summary::-webkit-details-marker { display: none; }
.file summary::before { content: "▸"; color: var(--faint); width: 10px; }
.file[open] summary::before { content: "▾"; }
.file-name { font-family: var(--mono); font-size: 12.5px; font-weight: 600; overflow-wrap: anywhere; }
.file-meta { margin-left: auto; color: var(--faint); font-size: 11px; white-space: nowrap; }
.file.changed summary { animation: fade-summary 6s ease-out forwards; }
@keyframes fade-summary { 0%, 40% { background: #fff6c2; } 100% { background: #f7f8fa; } }
.raw-toggle { display: block; margin: 4px 10px 0 auto; border: 0; background: none; color: var(--blue); font-size: 11px; cursor: pointer; padding: 2px 4px; border-radius: 4px; }
.raw-toggle[aria-pressed="true"] { background: #e1eaff; }
.line-env { display: flex; flex-direction: column; }
.line-meta { color: var(--faint); font-size: 10.5px; }
.line-text { font-family: var(--font); font-size: 12.5px; color: var(--text); }
.lines { list-style: none; margin: 0; padding: 4px 0; max-height: 260px; overflow-y: auto; font-family: var(--mono); font-size: 11.5px; line-height: 1.45; }
.line { padding: 1px 10px; white-space: pre-wrap; overflow-wrap: anywhere; border-left: 3px solid transparent; }
.line + .line { border-top: 1px solid #f2f3f5; }
.line.fresh { background: #fff6c2; border-left-color: #ffc60a; animation: fade 8s ease-out forwards; }
.line-note { padding: 1px 10px; color: var(--faint); font-style: italic; }
@keyframes fade { 0%, 40% { background: #fff6c2; } 100% { background: transparent; border-left-color: #ffe58a; } }
.backdrop { position: fixed; inset: 0; background: rgba(31, 35, 41, .35); z-index: 19; }

.toasts { position: fixed; top: 64px; left: 50%; transform: translateX(-50%); z-index: 40; display: flex; flex-direction: column; gap: 8px; width: min(92vw, 440px); pointer-events: none; }
.toast { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--blue); border-radius: 8px; padding: 8px 12px; box-shadow: 0 6px 20px rgba(31, 35, 41, .15); }
.toast-success { border-left-color: var(--green); } .toast-warning { border-left-color: var(--orange); } .toast-error { border-left-color: var(--red); }
.confirm { border: 0; border-radius: 12px; padding: 20px; width: min(92vw, 380px); box-shadow: 0 12px 40px rgba(0, 0, 0, .25); }
.confirm::backdrop { background: rgba(31, 35, 41, .45); }
.confirm h2 { margin: 0 0 8px; font-size: 16px; }
.confirm p { margin: 0 0 16px; color: var(--muted); }
.confirm-buttons { display: flex; justify-content: flex-end; gap: 8px; }

@media (max-width: 959px) {
  .app { grid-template-columns: minmax(0, 1fr); }
  .files-toggle { display: inline-block; }
  .files { position: fixed; top: 0; right: 0; bottom: 0; width: min(92vw, 420px); z-index: 20; box-shadow: -8px 0 24px rgba(0, 0, 0, .15); transform: translateX(105%); visibility: hidden; transition: transform .2s ease, visibility .2s; }
  .files.open { transform: none; visibility: visible; }
  .files-close { display: block; }
}
@media (max-width: 600px) {
  .topbar { padding: 6px 10px; gap: 8px; }
  .group-avatar { width: 32px; height: 32px; }
  .live-text, .wide { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  .narrow { display: inline; }
  .tb-btn { padding: 4px 8px; }
  .scroller { padding: 12px 10px 6px; }
  .avatar { width: 32px; height: 32px; font-size: 13px; }
  .msg { gap: 8px; }
  .composer { padding: 6px 10px 8px; }
  .hint { display: none; }
  .jump { right: 12px; bottom: 130px; }
}
@media (prefers-reduced-motion: reduce) {
  .line.fresh, .file.changed summary { animation: none; }
  .files { transition: none; }
}
`;
