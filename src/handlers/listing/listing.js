const f=document.getElementById('filter');f.hidden=false;
f.addEventListener('input',()=>{const q=f.value.toLowerCase();
  for(const r of document.querySelectorAll('tbody tr:not(.p)'))
    r.hidden=q!==''&&!r.cells[0].textContent.toLowerCase().includes(q)});
addEventListener('keydown',e=>{if(e.key==='/'&&document.activeElement!==f){e.preventDefault();f.focus()}});
