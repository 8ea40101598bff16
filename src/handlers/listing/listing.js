const f=document.getElementById('filter');f.hidden=false;
f.addEventListener('input',()=>{const q=f.value.toLowerCase();
  for(const r of document.querySelectorAll('tbody tr:not(.p)'))
    r.hidden=q!==''&&!r.cells[0].textContent.toLowerCase().includes(q)});
addEventListener('keydown',e=>{if(e.key==='/'&&document.activeElement!==f){e.preventDefault();f.focus()}});
const z=n=>String(n).padStart(2,'0');
for(const c of document.querySelectorAll('tbody td:nth-child(3)')){
  const m=/^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(c.textContent.trim());
  const s=c.querySelector('i');
  if(!m||!s)continue;
  const d=new Date(Date.UTC(m[1],m[2]-1,m[3],m[4],m[5],m[6]));
  c.title=m[0]+' UTC';
  c.firstChild.nodeValue=d.getFullYear()+'-'+z(d.getMonth()+1)+'-'+z(d.getDate())+' '+z(d.getHours())+':'+z(d.getMinutes());
  s.textContent=':'+z(d.getSeconds())}
const h=document.querySelector('th.date button');
if(h)h.firstChild.nodeValue=h.firstChild.nodeValue.replace(' (UTC)','');
