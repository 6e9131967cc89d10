// vipsfront viewer request (cloudfront-js-2.0): twin of vipsfront.edge.route, held to tests/vectors
// by run_vectors.mjs. Compact: code + config must fit 10 KB. See README.md.
import cf from 'cloudfront';
var crypto=require('crypto');
var CONFIG = __VIPSFRONT_CONFIG__;
var MAX=8192,VF='/_vf/',ORDER='w h fit pos fx fy enlarge fm q blur sharpen rot flip bg'.split(' ');
var DEF={fit:'cover',pos:'center',enlarge:false,rot:0};
var has=(o,k)=>Object.prototype.hasOwnProperty.call(o,k),isAuto=f=>/^auto/.test(f);
var fail=(s,c,e,p)=>{throw{status:s,code:c,error:e,param:p||null};};
var bad=(m,p)=>fail(400,'invalid_spec',m,p),badKey=m=>fail(400,'invalid_key',m,'key');
var deny=(m,p)=>fail(403,'forbidden',m,p),must=(n,m)=>bad(n+' must be '+m,n);
// spec._PARSERS; decimals stay strings, as repr() writes them
var num=(n,lo,hi,re,m)=>r=>!re.test(r)?must(n,m):+r<lo||+r>hi?must(n,`from ${lo} to ${hi}`):r;
var int=(n,lo,hi)=>{var f=num(n,lo,hi,/^\d{1,6}$/,`a whole number from ${lo} to ${hi}`);return r=>+f(r);};
var dec=(n,lo,hi)=>{
var f=num(n,lo,hi,/^\d{1,4}(\.\d{1,4})?$/,`a number from ${lo} to ${hi} with at most 4 decimals`);
return r=>(f(r),/\./.test(r)?r.replace(/\.?0+$/,''):r).replace(/^0+(?=\d)/,'');
};
var one=(n,l,al)=>r=>{
var v=al&&typeof al[r]=='string'?al[r]:r;
return l.split(' ').indexOf(v)<0?must(n,'one of: '+l.replace(/ /g,', ')):v;
};
var P={
w:int('w',1,MAX),h:int('h',1,MAX),dpr:(f=>r=>r=='auto'?1:f(r))(dec('dpr',1,4)),fit:one('fit','cover contain fill inside outside'),
pos:one('pos','center top bottom left right top-left top-right bottom-left bottom-right attention entropy',{
centre:'center',north:'top',south:'bottom',east:'right',west:'left',
northeast:'top-right',northwest:'top-left',southeast:'bottom-right',southwest:'bottom-left'}),
fx:dec('fx',0,1),fy:dec('fy',0,1),
enlarge:r=>/^(0|1|false|true)$/.test(r)?r=='1'||r=='true':must('enlarge','0 or 1'),
fm:one('fm','jpeg png webp avif gif auto auto-webp auto-avif auto-avif-webp',{jpg:'jpeg'}),
q:int('q',1,100),blur:dec('blur',0.3,100),sharpen:dec('sharpen',0.3,10),
rot:r=>/^(0|90|180|270)$/.test(r)?+r:must('rot','0, 90, 180 or 270'),
flip:one('flip','h v hv',{vh:'hv'}),
bg:r=>{
var v=(/^#?([\da-f]{3}|[\da-f]{6}|[\da-f]{8})$/i.exec(r)||must('bg','a hex colour: rgb, rrggbb or rrggbbaa'))[1];
v=v.toLowerCase().replace(/^(.)(.)(.)$/,'$1$1$2$2$3$3');
return v.length==8&&v.slice(6)=='ff'?v.slice(0,6):v;
}};
var isReq=n=>/^(p|s|exp)$/.test(n),isParam=n=>has(P,n)||isReq(n);
// spec.build
function build(ps){
var n,v={};
for(n in ps)has(P,n)||bad(`unknown parameter '${n}'`,n);
for(n in ps)v[n]=P[n](ps[n]);
var dpr=v.dpr||1,fit=v.fit||'cover';
delete v.dpr;
if(dpr!=1){
v.w==null&&v.h==null&&bad('dpr needs w or h','dpr');
['w','h'].forEach(s=>v[s]!=null&&(v[s]=Math.floor(v[s]*dpr+0.5))>MAX&&bad(`${s} times dpr must be at most ${MAX}`,s));
}
if(v.w==null||v.h==null)delete v.fit,delete v.pos,delete v.fx,delete v.fy;
else{
if(fit!='cover'&&fit!='contain')delete v.pos;
if(fit!='cover')delete v.fx,delete v.fy;
else if(v.fx||v.fy)v.fx=v.fx||'0.5',v.fy=v.fy||'0.5',delete v.pos;
}
return v;
}
// Spec.canonical; sign: signing_canonical
var canon=(v,sign)=>ORDER.filter(k=>v[k]!=null&&v[k]!==DEF[k])
.map(k=>k+'='+(k=='fm'&&sign&&isAuto(v.fm)?'auto':k=='enlarge'?1:v[k])).join(',');
// spec.negotiate; q as Python's float() reads it
var WS='[\\t-\\r\\x1c-\\x20\\x85\\xa0]+',TRIM=new RegExp(`^${WS}|${WS}$`,'g'),strip=s=>s.replace(TRIM,'');
var FLOAT=new RegExp('^[+-]?(inf(inity)?|nan|(D?\\.D|D\\.?)(e[+-]?D)?)$'.replace(/D/g,'(\\d(_?\\d)*)'));
function negotiate(accept){
var t={};
(accept||'').toLowerCase().split(',').forEach(item=>{
var ps=item.split(';').map(strip),q=1;
ps.slice(1).forEach(p=>{
var kv=split(p,'='),f=strip(kv[1]||'');
if(strip(kv[0])=='q')q=FLOAT.test(f)?+f.replace(/_/g,'').replace(/inf(inity)?/,'Infinity'):0;
});
if(ps[0]&&q>0)t[ps[0]]=1;
});
return 'auto'+(t['image/avif']==1?'-avif':'')+(t['image/webp']==1?'-webp':'');
}
// unquote(errors='strict'); name[:40] in code points
var unquote=s=>s.replace(/(%[\da-f]{2})+/gi,decodeURIComponent);
var split=(s,c)=>{var i=s.indexOf(c);return i<0?[s,null]:[s.slice(0,i),s.slice(i+1)];};
var cut40=n=>{for(var i=0,c=0;i<n.length&&c<40;c++)i+=(n.charCodeAt(i)&0xfc00)==0xd800?2:1;return n.slice(0,i);};
function splitQuery(query){
var out={};
query.length>2048&&bad('query longer than 2048 characters');
query.split('&').forEach(piece=>{
if(!piece)return;
var nr=split(piece.replace(/\+/g,' '),'='),n;
try{n=unquote(nr[0]),nr[1]=unquote(nr[1]||'');}catch(e){bad('query is not valid UTF-8');}
n||bad('parameter without a name');
isParam(n)||bad(`unknown parameter '${(n=cut40(n))}'`,n);
has(out,n)&&bad(`parameter '${n}' given more than once`,n);
out[n]=nr[1];
});
return out;
}
function parseParams(ps,presets,accept){
var n,p=ps.p,s=ps.s,x=ps.exp,sp={},m={},spec;
for(n in ps)isReq(n)||(sp[n]=ps[n]);
if(p!=null){
/^[a-z\d][a-z\d_-]{0,31}$/.test(p)&&presets&&has(presets,p)||bad('unknown preset','p');
for(n in presets[p])m[n]=presets[p][n];
for(n in sp)m[n]=sp[n];
sp=m;
}
s==null||/^[\w-]{1,32}\.[\w-]{43}$/.test(s)||must('s','KEYID.SIGNATURE (base64url HMAC-SHA256)');
x==null||/^\d{1,12}$/.test(x)||must('exp','a Unix time in seconds');
spec=build(sp);
if(isAuto(spec.fm))spec.fm=negotiate(accept);
return {spec:spec,sig:s,exp:x==null?x:+x};
}
function parseCanonical(text){
var ps={},spec;
if(text=='original')return {};
text.split(',').forEach(piece=>{
var nr=split(piece,'='),n=nr[0];
nr[1]==null||!has(P,n)||has(ps,n)||n=='dpr'?bad('malformed canonical spec',isParam(n)?n:null):(ps[n]=nr[1]);
});
canon(spec=build(ps))==text||bad('spec is not in canonical form');
return spec;
}
function checkKey(k){
k||badKey('missing image key');
encodeURIComponent(k).replace(/%../g,'.').length>900&&badKey('key longer than 900 bytes');
/[\x00-\x1f\x7f]/.test(k)&&badKey('key contains control characters');
k.split('/').forEach(s=>{
/^\.{0,2}$/.test(s)&&badKey("key has an empty, '.' or '..' segment");
s=='_vf'&&badKey("key may not contain a '_vf' segment");
});
return k;
}
function parsePath(raw){
var path,i;
try{path=unquote(raw).replace(/^\//,'');}catch(e){badKey('path is not valid UTF-8');}
i=path.indexOf(VF);
return i>=0&&path.indexOf('/',i+5)<0?{key:checkKey(path.slice(0,i)),spec:parseCanonical(path.slice(i+5))}:{key:checkKey(path)};
}
var encodeKey=s=>encodeURIComponent(s).replace(/%2F/g,'/').replace(/[!'()*]/g,c=>'%'+c.charCodeAt(0).toString(16).toUpperCase());
// UnsignedPolicy.allows
function allows(spec,cfg){
var n,sc=canon(spec,1),u=cfg.unsigned||{};
if(!sc)return true;
for(n in cfg.presets||{})if(canon(build(cfg.presets[n]),1)==sc)return true;
return !u.presets_only&&[[spec.w,u.widths],[spec.h,u.heights]].every(a=>
a[0]==null||(!a[1]||a[1].indexOf(a[0])>=0)&&(u.max_side==null||a[0]<=u.max_side));
}
// Policy.authorize, signing.verify
async function authorize(key,spec,req,cfg,keys,now){
if(!cfg.signed)return;
if(req.sig==null)return allows(spec,cfg)||deny('this transform needs a signed URL','s');
var ks=split(req.sig,'.'),secret=await keys(ks[0]),d=0,i,want;
secret||deny('unknown signing key','s');
want=crypto.createHmac('sha256',secret)
.update('/'+encodeKey(key)+'?'+canon(spec,1)+(req.exp!=null?'&exp='+req.exp:''))
.digest('base64').replace(/=+$/,'').replace(/\+/g,'-').replace(/\//g,'_');
for(i=0;i<43;i++)d|=want.charCodeAt(i)^ks[1].charCodeAt(i);
d&&deny('signature does not match','s');
req.exp!=null&&now>req.exp&&deny('signed URL has expired','exp');
}
// edge.route; keys: kid -> secret|null, may be async
async function route(uri,query,accept,cfg,keys,now){
var path=parsePath(uri),ps=splitQuery(query),req,spec=path.spec,c,x;
if(spec){
x=Object.keys(ps).filter(n=>n!='s'&&n!='exp').sort();
x.length&&bad('the canonical path form takes only s and exp',x[0]);
req=parseParams(ps);
}else spec=(req=parseParams(ps,cfg.presets,accept)).spec;
await authorize(path.key,spec,req,cfg,keys,now);
c=canon(spec);
return {key:path.key,canonical:c,variant_key:path.key+VF+(c||'original'),
uri:'/'+encodeKey(path.key+VF)+(c||'original'),vary_accept:!path.spec&&isAuto(spec.fm),sig:req.sig,exp:req.exp};
}
// raw query, else rebuilt from the parsed object
function rawQuery(r){
var n,out=[],raw=typeof r.rawQueryString=='function'&&r.rawQueryString();
if(raw)return raw;
for(n in r.querystring)(r.querystring[n].multiValue||[r.querystring[n]]).forEach(v=>out.push(n+'='+v.value));
return out.join('&');
}
// KeyValueStore key:<kid>; errors fail closed
var kvs;
async function secretFor(kid){
try{kvs=kvs||(CONFIG.kvsId?cf.kvs(CONFIG.kvsId):cf.kvs());return await kvs.get('key:'+kid);}catch(e){return null;}
}
async function handler(event){
var r=event.request,a=r.headers.accept,v;
// reserved paths the origin serves
if(/^\/_vf\/(health$|openapi\.json$|info\/|demo(\/|$))/.test(r.uri))return r;
try{
v=await route(r.uri,rawQuery(r),a?a.value:null,CONFIG,secretFor,Date.now()/1000);
}catch(e){
if(!e.status)throw e;
return {statusCode:e.status,statusDescription:e.status==403?'Forbidden':'Bad Request',
headers:{'content-type':{value:'application/json'},'cache-control':{value:'public, max-age=60'}},
body:{encoding:'text',data:JSON.stringify({error:e.error,code:e.code,param:e.param})}};
}
r.uri=v.uri;
r.querystring={};
// the origin's 307 for a large variant must stay signed
if(v.sig){r.headers['x-vipsfront-signature']={value:v.sig};v.exp!=null&&(r.headers['x-vipsfront-expires']={value:''+v.exp});}
return r;
}
