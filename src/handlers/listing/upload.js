const up=document.getElementById('upload'),list=document.getElementById('queue'),here=location.pathname;
const shown=new Set([...document.querySelectorAll('tbody tr:not(.p) a')].map(a=>decodeURIComponent(a.getAttribute('href')).replace(/\/$/,'')));
let current=null,stopped=false,changed=false;
function line(text){const li=document.createElement('li'),label=document.createElement('span'),bar=document.createElement('progress'),
  note=document.createElement('output');
  label.textContent=text;bar.max=1;bar.value=0;li.append(label,bar,note);list.append(li);return{li,bar,note};}
function send(file,path,overwrite,row){return new Promise(done=>{const xhr=new XMLHttpRequest(),form=new FormData();
  form.append('file',file,path);current=xhr;
  xhr.open('POST',here+(overwrite?'?overwrite=1':''));
  xhr.upload.onprogress=e=>{if(e.lengthComputable){row.bar.value=e.loaded/e.total;}};
  xhr.onload=()=>done({status:xhr.status,text:xhr.responseText});
  xhr.onerror=()=>done({status:0,text:'the connection failed'});
  xhr.onabort=()=>done({status:-1,text:'cancelled'});
  xhr.send(form);});}
async function put(file,path){const row=line(path);
  if(stopped){row.note.value='cancelled';return;}
  let overwrite=false;
  if(!path.includes('/')&&shown.has(path)){
    if(!confirm(path+' exists here. Replace it?')){row.note.value='skipped';return;}
    overwrite=true;}
  let answer=await send(file,path,overwrite,row);
  if(answer.status===409&&!overwrite&&/exists already/.test(answer.text)&&confirm(path+' exists. Replace it?')){
    answer=await send(file,path,true,row);}
  current=null;
  if(answer.status>=200&&answer.status<300){row.bar.value=1;row.note.value='done';changed=true;}
  else{row.li.className='error';row.note.value=answer.status>0?answer.text.trim():answer.text;}}
async function putAll(items){stopped=false;document.getElementById('cancel').hidden=false;
  for(const [file,path] of items){await put(file,path);}
  document.getElementById('cancel').hidden=true;
  if(changed){location.reload();}}
function entries(entry,prefix,out){return new Promise(done=>{
  if(entry.isFile){entry.file(f=>{out.push([f,prefix+f.name]);done();},()=>done());return;}
  const reader=entry.createReader(),all=[];
  const more=()=>reader.readEntries(async batch=>{if(batch.length){all.push(...batch);more();return;}
    for(const e of all){await entries(e,prefix+entry.name+'/',out);}
    done();},()=>done());
  more();});}
if(up.querySelector('form.files')){up.querySelector('.hint').hidden=false;
  up.querySelector('form.files').addEventListener('submit',e=>{e.preventDefault();
    const items=[];
    for(const input of e.target.querySelectorAll('input[type=file]')){
      for(const f of input.files){items.push([f,f.webkitRelativePath||f.name]);}
      }
    if(items.length){putAll(items);}
    e.target.reset();});
  up.querySelector('form.mkdir').addEventListener('submit',async e=>{e.preventDefault();
    const name=e.target.elements.mkdir.value.trim().replace(/\/+$/,'');
    if(!name){return;}
    const row=line(name+'/'),r=await fetch(here+name.split('/').map(encodeURIComponent).join('/')+'/',{method:'MKCOL'});
    if(r.ok){location.reload();}else{row.li.className='error';row.note.value=(await r.text()).trim();}});
  document.getElementById('cancel').addEventListener('click',()=>{stopped=true;if(current){current.abort();}});
  addEventListener('dragover',e=>{e.preventDefault();up.classList.add('over');});
  addEventListener('dragleave',e=>{if(!e.relatedTarget){up.classList.remove('over');}});
  addEventListener('drop',async e=>{e.preventDefault();up.classList.remove('over');
    const found=[...e.dataTransfer.items].map(i=>i.webkitGetAsEntry&&i.webkitGetAsEntry()).filter(Boolean),items=[];
    if(found.length){for(const entry of found){await entries(entry,'',items);}}
    else{for(const f of e.dataTransfer.files){items.push([f,f.name]);}}
    if(items.length){putAll(items);}});
  }
if(up.dataset.changes!==undefined){
  for(const a of document.querySelectorAll('tbody tr:not(.p) td:first-child a')){
    const name=decodeURIComponent(a.getAttribute('href')).replace(/\/$/,''),cell=a.parentElement;
    const rename=document.createElement('button'),remove=document.createElement('button');
    rename.textContent='rename';remove.textContent='delete';rename.className=remove.className='act';
    remove.onclick=async()=>{if(!confirm('Delete '+name+(a.getAttribute('href').endsWith('/')?' and everything in it':'')+'?')){return;}
      const r=await fetch(a.href,{method:'DELETE'});
      if(r.ok){location.reload();}else{alert((await r.text()).trim());}};
    rename.onclick=async()=>{const to=prompt('New name (or path) for '+name,name);
      if(!to||to===name){return;}
      const dest=new URL(to.split('/').map(encodeURIComponent).join('/'),location.href).pathname;
      let r=await fetch(a.href,{method:'MOVE',headers:{Destination:dest,Overwrite:'F'}});
      if(r.status===412&&confirm(to+' exists. Replace it?')){r=await fetch(a.href,{method:'MOVE',headers:{Destination:dest}});}
      if(r.ok){location.reload();}else{alert((await r.text()).trim());}};
    cell.append(' ',rename,' ',remove);}}
