// vipsfront viewer request for /_vf/info/* (cloudfront-js-2.0), the cache behaviour of the info document.
// The viewer's /_vf/info/{key}, percent-encoded as sent, goes to the Function URL as
// /{origin form of key}/_vf/info (keys.info_path): a path of unreserved characters, which CloudFront's SigV4
// signature (origin access control) and Lambda's check read alike, as viewer_request.js does for variants.
// The key is checked and the info policy applied here as at the origin, so a refused request costs no
// invocation. Held to tests/vectors/info/*.json by run_vectors.mjs; deploys minified (build.mjs --info).
var CONFIG = __VIPSFRONT_CONFIG__;
var fail=(s,c,e,p)=>{throw{status:s,code:c,error:e,param:p};};
var badKey=m=>fail(400,'invalid_key',m,'key');
// keys.encode_key, then keys.origin_key: each byte outside A-Z a-z 0-9 - . _ / as ~XX (viewer_request.js)
var originKey=s=>encodeURIComponent(s).replace(/%2F/g,'/').replace(/[!'()*]/g,c=>'%2'+'1789A'["!'()*".indexOf(c)])
.replace(/[%~]/g,c=>c<'~'?'~':'~7E');
// keys.check_key (viewer_request.js checkKey); the origin form is at least as long as the UTF-8 bytes
function checkKey(k){
k||badKey('missing image key');
originKey(k).length>900&&badKey('key longer than 900 bytes');
/[\x00-\x1f\x7f]/.test(k)&&badKey('key contains control characters');
k.split('/').forEach(s=>{
/^\.{0,2}$/.test(s)&&badKey("key has an empty, '.' or '..' segment");
s=='_vf'&&badKey("key may not contain a '_vf' segment");
});
return k;
}
// keys.parse_info_path (unquote(errors='strict')), Policy.authorize_info, keys.info_path
function rewrite(uri,cfg){
var key;
try{key=uri.slice(10).replace(/(%[\da-f]{2})+/gi,decodeURIComponent);}catch(e){badKey('path is not valid UTF-8');}
checkKey(key);
cfg.prefixes&&!cfg.prefixes.some(p=>!key.indexOf(p))&&fail(404,'not_found','original not found','key');
cfg.signed&&(cfg.unsigned||{}).info===false&&fail(403,'forbidden','image info is not served',null);
return {key:key,uri:'/'+originKey(key)+'/_vf/info'};
}
function handler(event){
var r=event.request,v;
try{v=rewrite(r.uri,CONFIG);}catch(e){
if(!e.status)throw e;
return {statusCode:e.status,statusDescription:{403:'Forbidden',404:'Not Found'}[e.status]||'Bad Request',
headers:{'content-type':{value:'application/json'},'cache-control':{value:'public, max-age=60'}},
body:{encoding:'text',data:JSON.stringify({error:e.error,code:e.code,param:e.param})}};
}
r.uri=v.uri;
r.querystring={};
return r;
}
