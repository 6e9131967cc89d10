// vipsfront.url.dialects.dit: the Serverless Image Handler's base64 JSON requests, its thumbor-style
// paths (readPath, rotate clockwise) and the query parameters that override either
var DIT='dit';
var isObject=x=>x!=null&&typeof x=='object'&&!Array.isArray(x);
var truthy=x=>x!=null&&typeof x=='object'?Object.keys(x).length>0:!!x;// as Python's bool()
var ditInt=(n,x,lo)=>typeof x=='number'&&x%1==0&&x>=(lo||0)&&x<=99999?x:refuse(DIT,n,`${n} must be a whole number from ${lo||0}`);
var ditNumber=(n,x)=>typeof x=='number'&&x>=0&&x<=1e4?x:refuse(DIT,n,n+' must be a number');
var ditFlip=(f,c)=>(f=(f||'')+c,(/h/.test(f)?'h':'')+(/v/.test(f)?'v':''));
// sharp's colour: #rrggbb text or {r, g, b, alpha} (alpha 0..1)
function ditColour(n,c){
var rgb,a;
if(typeof c=='string'&&/^#?([\da-f]{3}|[\da-f]{6}|[\da-f]{8})$/i.test(c))return c.replace('#','');
isObject(c)&&Object.keys(c).every(k=>/^(r|g|b|alpha)$/.test(k))||refuse(DIT,n,n+' must be a hex colour or {r, g, b, alpha}');
rgb=['r','g','b'].map(k=>ditInt(n,has(c,k)?c[k]:0));
a=ditNumber(n,has(c,'alpha')?c.alpha:1);
Math.max(rgb[0],rgb[1],rgb[2])>255||a>1?refuse(DIT,n,n+' channels are 0..255 and alpha 0..1'):rgb.push(Math.round(a*255));
return rgb.map(x=>(x<16?'0':'')+x.toString(16)).join('');
}
var ditSigma=(n,x,top)=>x===true?'1':x===false||x==null?null:decimal(Math.min(top,Math.max(0.3,ditNumber(n,isObject(x)?x.sigma:x))));
function ditResize(r,v){
isObject(r)||refuse(DIT,'resize','resize must be an object');
Object.keys(r).forEach(n=>{
var x=r[n],p='resize.'+n;
if(n=='width'||n=='height')x!=null&&ditInt(p,x)&&(v[n[0]]=''+x);
else if(n=='fit')v.fit=typeof x=='string'&&/^(cover|contain|fill|inside|outside)$/.test(x)?x:none(DIT,p,''+x);
else if(n=='background')v.bg=ditColour(p,x);
else if(n=='withoutEnlargement')v.enlarge=truthy(x)?'0':'1';
else if(n=='position'){
// sharp's two-word forms; every other name as the native grammar reads it
try{v.pos=P.pos(/^(left|right) (top|bottom)$/.test(x)?x.replace(/(\w+) (\w+)/,'$2-$1'):x);}catch(e){none(DIT,p,''+x);}
}
else none(DIT,p,p,'resize option');
});
}
function ditEdits(e,v){
var q={},resized,x;
isObject(e)||refuse(DIT,'edits','edits must be an object');
Object.keys(e).forEach(n=>{
var x=e[n];
if(n=='resize')ditResize(x,v),resized=1;
else if(n=='extract'||n=='crop'){
resized&&refuse(DIT,n,n+' after resize has no equivalent here (put it first)');
isObject(x)&&Object.keys(x).sort().join()=='height,left,top,width'||refuse(DIT,n,n+' takes left, top, width and height');
v.rect=['left','top','width','height'].map(s=>ditInt(n+'.'+s,x[s])).join(',');
}else if(n=='toFormat')v.fm=typeof x=='string'&&has(TH_FORMATS,x)?TH_FORMATS[x]:none(DIT,n,''+x);
else if(/^(jpeg|png|webp|avif|gif)$/.test(n)){
isObject(x)&&Object.keys(x).every(k=>k=='quality')||refuse(DIT,n,n+' takes only quality here');
q[n]=x.quality;
}else if(n=='rotate'){
x==null||x===false||[0,90,180,270].indexOf(x)>=0||refuse(DIT,n,'rotate takes 0, 90, 180 or 270 (other angles have no equivalent)');
x&&(v.rot=''+x);
}else if(n=='flip'||n=='flop')truthy(x)&&(v.flip=ditFlip(v.flip,n=='flip'?'v':'h'));
else if(n=='blur'||n=='sharpen')(x=ditSigma(n,x,n=='blur'?100:10))&&(v[n]=x);
else if(n=='flatten')isObject(x)&&has(x,'background')&&(v.bg=ditColour('flatten.background',x.background));
else none(DIT,n,n,'edit');
});
// the output format's quality, or the only one given
x=Object.keys(q);
x=v.fm?q[v.fm]:x.length==1?q[x[0]]:null;
x!=null&&(v.q=''+ditInt('quality',x,1));
}
// _request: the decoded JSON request, or null when s is not base64 JSON (then it is a key)
function ditRequest(s){
var r;
if(!/^[\w+\/-]{8,}={0,2}$/.test(s))return null;
try{
r=atob(s.replace(/-/g,'+').replace(/_/g,'/')+'==='.slice(0,(4-s.length%4)%4));
r=JSON.parse(decodeURIComponent(r.replace(/[%\x80-\xff]/g,c=>'%'+c.charCodeAt(0).toString(16))));
}catch(e){return null;}
return isObject(r)?r:refuse(DIT,'request','the base64 request must be a JSON object');
}
// _query: over what the path asked for
function ditQuery(ps,v){
ps.forEach(p=>{
var n=p[0],r=p[1];
/^(format|fit|width|height|rotate|flip|flop|signature)$/.test(n)||none(DIT,n,n,'parameter');
if(n=='format')v.fm=has(TH_FORMATS,r)?TH_FORMATS[r]:none(DIT,n,r);
else if(n=='fit')v.fit=r;
else if(n=='width'||n=='height')r!='0'&&(v[n[0]]=r);
else if(n=='rotate'){
/^(0|90|180|270)?$/.test(r)||refuse(DIT,n,'rotate takes 0, 90, 180 or 270 (other angles have no equivalent)');
r&&r!='0'&&(v.rot=r);
}else if(n!='signature'&&/^(true|True|1)$/.test(r))v.flip=ditFlip(v.flip,n=='flip'?'v':'h');
});
}
// the solution's signature (signature=) is not checked here: the unsigned policy judges the request
function translate(path,query,o){
var v={},ps,s,r,b,k;
path.length>4096&&refuse(DIT,'key','path longer than 4096 characters');
ps=pairs(query);
s=path.slice(1).split('/');
if(r=s.length==1&&ditRequest(s[0])){
k=Object.keys(r).filter(n=>!/^(bucket|key|edits)$/.test(n)).sort();
k.length&&none(DIT,k[0],k[0],'request field');
typeof r.key=='string'||refuse(DIT,'key','the request needs a key');
b=r.bucket;
b==null||typeof b=='string'||refuse(DIT,'bucket','bucket must be a name');
ditEdits(truthy(r.edits)?r.edits:{},v);
k=keyOf(DIT,r.key.replace(/%/g,'%25'),o,b);
}else{
s=readPath(DIT,1,s,v);
s[0].indexOf('s3:')||(b=s.shift().slice(3));
k=keyOf(DIT,s.join('/'),o,b);
}
ditQuery(ps,v);
return {key:k,values:v};
}
