// vipsfront viewer request (cloudfront-js-2.0): twin of vipsfront.url.route.route, held to tests/vectors
// by run_vectors.mjs. It deploys minified (build.mjs); code + config must fit 10 KB. Only the constructs
// README.md lists (checked by check_runtime.mjs): no async callbacks, modules by import only.
// As it stands the file reads native URLs at the root. build.mjs replaces the DIALECT line: PREFIXED for
// a function under a path prefix; a dialect's name, with its parser appended (dialects/*.js, which
// defines translate), for a dialect's function. terser drops what a build cannot reach.
import cf from 'cloudfront';
import crypto from 'crypto';
var CONFIG = __VIPSFRONT_CONFIG__;
var DIALECT = 'native', PREFIXED = false, translate = null;
var MAX=8192,VF='/_vf/',ORDER='w h fit pos fx fy enlarge fm q blur sharpen rot flip bg rect trim v'.split(' ');
var DEF={fit:'cover',pos:'center',enlarge:false,rot:0};
var has=(o,k)=>Object.prototype.hasOwnProperty.call(o,k),isAuto=f=>/^auto/.test(f);
var fail=(s,c,e,p)=>{throw{status:s,code:c,error:e,param:p||null};};
var bad=(m,p)=>fail(400,'invalid_spec',m,p),badKey=m=>fail(400,'invalid_key',m,'key');
var deny=(m,p)=>fail(403,'forbidden',m,p),must=(n,m)=>bad(n+' must be '+m,n);
// spec._PARSERS; decimals stay strings, as repr() writes them
var num=(n,lo,hi,re,m)=>r=>!re.test(r)||+r<lo||+r>hi?must(n,m):r;
var int=(n,lo,hi)=>{var f=num(n,lo,hi,/^\d{1,6}$/,`a whole number from ${lo} to ${hi}`);return r=>+f(r);};
var dec=(n,lo,hi)=>{
var f=num(n,lo,hi,/^\d{1,4}(\.\d{1,4})?$/,`a number from ${lo} to ${hi} with at most 4 decimals`);
return r=>(f(r),/\./.test(r)?r.replace(/\.?0+$/,''):r).replace(/^0+(?=\d)/,'');
};
var one=(n,l,al)=>r=>{
var v=al&&typeof al[r]=='string'?al[r]:r;
return l.split(' ').indexOf(v)<0?must(n,'one of: '+l.replace(/ auto-\S+/g,'').replace(/ /g,', ')):v;
};
var P={
w:int('w',1,MAX),h:int('h',1,MAX),dpr:(f=>r=>r=='auto'?1:f(r))(dec('dpr',1,4)),fit:one('fit','cover contain fill inside outside'),
// the aliases: native URLs, the canonical face-1 and the Serverless Image Handler's positions only
pos:one('pos','center top bottom left right top-left top-right bottom-left bottom-right attention entropy face',DIALECT=='native'||DIALECT=='dit'?{
'face-1':'face',centre:'center',north:'top',south:'bottom',east:'right',west:'left',
northeast:'top-right',northwest:'top-left',southeast:'bottom-right',southwest:'bottom-left'}:0),
fx:dec('fx',0,1),fy:dec('fy',0,1),
enlarge:r=>/^(0|1|false|true)$/.test(r)?r=='1'||r=='true':must('enlarge','0 or 1'),
fm:one('fm','jpeg png webp avif gif auto auto-webp auto-avif auto-avif-webp',{jpg:'jpeg'}),
q:int('q',1,100),blur:dec('blur',0.3,100),sharpen:dec('sharpen',0.3,10),
rot:r=>/^(0|90|180|270)$/.test(r)?+r:must('rot','0, 90, 180 or 270'),
flip:one('flip','h v hv',{vh:'hv'}),
rect:r=>(r=/^(\d{1,5})[,:](\d{1,5})[,:](\d{1,5})[,:](\d{1,5})$/.exec(r))&&r[3]>0&&r[4]>0&&r[1]- -r[3]<65536&&r[2]- -r[4]<65536?
r.slice(1).map(Number).join(':'):must('rect','left,top,width,height within 65535'),trim:int('trim',0,255),
v:r=>/^[\w-]{1,32}$/.test(r)?r:must('v',"1 to 32 characters of A-Z, a-z, 0-9, '-' and '_'"),
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
['w','h'].forEach(s=>v[s]!=null&&(v[s]=Math.floor((v[s]*Math.round(dpr*1e4)+5e3)/1e4))>MAX&&bad(`${s} times dpr must be at most ${MAX}`,s));
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
.map(k=>k+'='+(k=='fm'&&sign&&isAuto(v.fm)?'auto':k=='enlarge'?1:v[k]=='face'&&!sign?'face-1':v[k])).join(',');
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
return {spec:spec,sig:s,exp:x==null?x:+x,ps:sp};
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
// keys.check_key; the origin form is at least as long as the UTF-8 bytes
originKey(k).length>900&&badKey('key longer than 900 bytes');
/[\x00-\x1f\x7f]/.test(k)&&badKey('key contains control characters');
k.split('/').forEach(s=>{
/^\.{0,2}$/.test(s)&&badKey("key has an empty, '.' or '..' segment");
s=='_vf'&&badKey("key may not contain a '_vf' segment");
});
return k;
}
// keys.parse_path: the canonical path form names the key in its origin form (keys.parse_origin_key);
// a '%', or a '~' that is not ~XX, is refused with the UTF-8 errors
function parsePath(raw){
var path,i,h;
try{
path=unquote(raw).replace(/^\//,'');i=path.indexOf(VF);
if(i>=0&&path.indexOf('/',i+5)<0)/%|~(?![\dA-F]{2})/.test(h=path.slice(0,i))?badKey():h=unquote(h.replace(/~/g,'%'));
}catch(e){badKey('path is not valid UTF-8');}
return {key:checkKey(h!=null?h:path),spec:h!=null&&parseCanonical(path.slice(i+5))};
}
// keys.encode_key: encodeURIComponent leaves !'()* as they are (0x21, 0x27-0x2A)
var encodeKey=s=>encodeURIComponent(s).replace(/%2F/g,'/').replace(/[!'()*]/g,c=>'%2'+'1789A'["!'()*".indexOf(c)]);
// keys.origin_key: the key in the rewritten URI and in S3, each byte outside A-Z a-z 0-9 - . _ / as ~XX:
// nothing that a SigV4 signer or S3 would decode or escape differently
var originKey=s=>encodeKey(s).replace(/[%~]/g,c=>c<'~'?'~':'~7E');
// UnsignedPolicy.refusal: why a spec needs a signature (none: it needs none): the first name=value of
// the signing canonical (without v, sizes last) off its list (null: any), a size with the nearest allowed
var NS=' needs a signed URL';
function refusal(spec,cfg){
var n,u=cfg.unsigned||{},a=u.params,m=u.max_side||MAX,su=canon(spec,1).replace(/(^|,)v=[\w-]+$/,''),why,big;// su: without v
if(!su)return u.originals===false?'the original'+NS:null;
for(n in cfg.presets||{})if(canon(build(cfg.presets[n]),1)==su)return null;
if(u.presets_only)return 'a transform other than a preset'+NS;
if(spec.w==null&&spec.h==null&&!u.full_size&&u.widths)return 'a transform without w or h'+NS;
su.split(',').forEach(p=>{
var kv=split(p,'='),k=kv[0],x=+kv[1],s=k=='w'||k=='h',l=s?u[k=='w'?'widths':'heights']:a&&(has(a,k)?a[k]:[]);
if(l&&!l.some(y=>y==kv[1])||s&&x>m){
l=(l||[]).sort((b,c)=>b-c);
l=l.filter((y,i)=>y<x!=l[i+1]<x||y>x!=l[i-1]>x).join(', ');// sorted: the last below, the first above
s?big=big||p+NS+(l&&' (nearest unsigned: '+l+')'):why=why||p+NS;
}
});
return why||big;
}
// edge.hint_width, edge.hint_dpr: Sec-CH-Width up the ladder, Sec-CH-DPR up to a half (1 < dpr <= 4)
// breakpoints.BREAKPOINT_WIDTHS when the unsigned policy has no widths
var HINT_WIDTHS=[16,32,48,64,96,128,256,384,640,750,828,1080,1200,1920,2048,3840];
function hintWidth(raw,ladder){
var w=+(raw=strip(raw||'')),l=ladder.slice().sort((a,b)=>a-b);
return /^\d{1,5}$/.test(raw)&&w?l.filter(x=>x>=w)[0]||l[l.length-1]:null;
}
function hintDpr(raw){
var d=/^\d{1,2}(\.\d{1,20})?$/.test(raw=strip(raw||''))?Math.min(4,Math.ceil(raw*2)/2):0;
return d>1?d:null;
}
// edge._fold_hints, edge._spec: a hint folded into the params (preset expanded), as dpr is; a spec
// that does not build or that the policy refuses gives way to the unhinted one
function hinted(req,hints,cfg,accept){
var m={},n,x,s,u=cfg.unsigned||{};
for(n in req.ps)m[n]=req.ps[n];
if(m.w==null&&m.h==null){
if(m.dpr!=null&&m.dpr!='auto')return req.spec;
if(!(x=hintWidth(hints.width,u.widths&&u.widths.length?u.widths:HINT_WIDTHS)))return req.spec;
m.w=''+x;
if(m.dpr=='auto')delete m.dpr;
}else if(m.dpr=='auto'){
if(!(x=hintDpr(hints.dpr)))return req.spec;
m.dpr=''+x;
}else return req.spec;
try{s=build(m);}catch(e){return req.spec;}
if(isAuto(s.fm))s.fm=negotiate(accept);
return cfg.signed&&refusal(s,cfg)?req.spec:s;
}
// Policy.authorize, signing.verify; secret: the store's value for the URL's kid (null when none)
function authorize(v,cfg,secret,now){
var d=0,i,want;
// Policy.check_key: outside the published prefixes, as if absent
cfg.prefixes&&!cfg.prefixes.some(p=>!v.key.indexOf(p))&&fail(404,'not_found','original not found','key');
if(!cfg.signed)return;
if(DIALECT!='native'||v.sig==null)return (i=refusal(v.spec,cfg))&&deny(i,'s');
secret||deny('unknown signing key','s');
want=crypto.createHmac('sha256',secret)
.update('/'+encodeKey(v.key)+'?'+canon(v.spec,1)+(v.exp!=null?'&exp='+v.exp:''))
.digest('base64').replace(/=+$/,'').replace(/\+/g,'-').replace(/\//g,'_');
for(i=0;i<43;i++)d|=want.charCodeAt(i)^v.sig.charCodeAt(v.kid.length+1+i);
d&&deny('signature does not match','s');
v.exp!=null&&now>v.exp&&deny('signed URL has expired','exp');
}
// edge.route before Policy.authorize; hints: {width, dpr} header values, or null when hints are off
// dialects.choice: the path prefix of the function's cache behaviour (cfg.prefix, none for the default)
// is not part of the key. The canonical path form is always native, prefix and all: behind CloudFront
// the behaviour for */_vf/* (the native build, no prefix) takes it before any prefix's behaviour.
function route(uri,query,accept,cfg,hints){
var req,path,ps,spec,c,x,t;
if(PREFIXED&&cfg.prefix)uri=uri.slice(cfg.prefix.length-1);
if(DIALECT!='native'){
// edge._translated: judged as its native twin, by the unsigned policy (this build reads no signature)
t=translate(uri,query,cfg.dialect||{});
path={key:t.key};req={};
try{spec=build(t.values);}catch(e){t.names&&has(t.names,e.param)&&(e.param=t.names[e.param]);throw e;}
// only these dialects can ask for fm=auto
if((DIALECT=='imgix'||DIALECT=='aws-sample')&&isAuto(spec.fm))spec.fm=negotiate(accept);
}else{
path=parsePath(uri);ps=splitQuery(query);spec=path.spec;
if(spec){
x=Object.keys(ps).filter(n=>n!='s'&&n!='exp').sort();
x.length&&bad('the canonical path form takes only s and exp',x[0]);
req=parseParams(ps);
}else{
spec=(req=parseParams(ps,cfg.presets,accept)).spec;
if(hints&&req.sig==null&&Object.keys(req.ps).some(n=>n!='v'))spec=hinted(req,hints,cfg,accept);
}
}
c=canon(spec);
x=originKey(path.key)+VF+(c||'original');
return {key:path.key,canonical:c,variant_key:x,uri:'/'+x,vary_accept:!path.spec&&isAuto(spec.fm),
spec:spec,sig:req.sig,exp:req.exp,kid:req.sig==null?null:split(req.sig,'.')[0]};
}
// raw query, else rebuilt from the parsed object
function rawQuery(r){
var n,out=[],raw=typeof r.rawQueryString=='function'&&r.rawQueryString();
if(raw)return raw;
for(n in r.querystring)(r.querystring[n].multiValue||[r.querystring[n]]).forEach(v=>out.push(n+'='+v.value));
return out.join('&');
}
var kvs;
var header=(r,n)=>r.headers[n]?r.headers[n].value:null;
// the one async function (CloudFront calls it); the store is awaited here, never through a callback
async function handler(event){
var r=event.request,v,secret=null;
// reserved paths the origin serves
if(DIALECT=='native'&&/^\/_vf\/(health$|openapi\.json$|info\/|demo(\/|$))/.test(r.uri))return r;
try{
v=route(r.uri,rawQuery(r),header(r,'accept'),CONFIG,
DIALECT!='native'||CONFIG.hints===false?null:{width:header(r,'sec-ch-width'),dpr:header(r,'sec-ch-dpr')});
// KeyValueStore key:<kid>; a store that cannot be read leaves no secret: 403
if(DIALECT=='native'&&CONFIG.signed&&v.sig!=null)try{
kvs=kvs||(CONFIG.kvsId?cf.kvs(CONFIG.kvsId):cf.kvs());
secret=await kvs.get('key:'+v.kid);
}catch(e){}
authorize(v,CONFIG,secret,Date.now()/1000);
}catch(e){
if(!e.status)throw e;
return {statusCode:e.status,statusDescription:{403:'Forbidden',404:'Not Found'}[e.status]||'Bad Request',
headers:{'content-type':{value:'application/json'},'cache-control':{value:'public, max-age=60'}},
body:{encoding:'text',data:JSON.stringify({error:e.error,code:e.code,param:e.param})}};
}
r.uri=v.uri;
r.querystring={};
// the origin's 307 for a large variant must stay signed
if(v.sig){r.headers['x-vipsfront-signature']={value:v.sig};v.exp!=null&&(r.headers['x-vipsfront-expires']={value:''+v.exp});}
return r;
}
