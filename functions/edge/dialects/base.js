// vipsfront.url.dialects.base: what every dialect's parser shares. A parser defines
// translate(path, query, options) -> {key, values, names}: the original's key (checked), the native
// parameters (raw values, as a query carries them) and, for a build error, native name -> its own.
var refuse=(d,n,m)=>bad(d+': '+m,cut40(n));
// no_equivalent (k: what n is, when n is the parameter's name) and the refusal of a value r of n
var none=(d,n,r,k)=>refuse(d,n,`${k||n} '${cut40(r)}' has no equivalent here`);
// split_pairs: a query's decoded [name, value] pairs in order; a repeated name or bad UTF-8 is a 400
function pairs(query){
var out=[],seen={};
query.length>2048&&bad('query longer than 2048 characters');
query.split('&').forEach(piece=>{
if(!piece)return;
var nr=split(piece.replace(/\+/g,' '),'='),n;
try{n=unquote(nr[0]),nr[1]=unquote(nr[1]||'');}catch(e){bad('query is not valid UTF-8');}
n||bad('parameter without a name');
has(seen,n)&&bad(`parameter '${cut40(n)}' given more than once`,cut40(n));
seen[n]=out.push([n,nr[1]]);
});
return out;
}
// decimal: at most 4 decimals, no trailing zeros
var decimal=v=>v.toFixed(4).replace(/\.?0+$/,'');
// key_of: a checked key from a percent-encoded path piece, under the key prefix its bucket maps to
function keyOf(d,raw,o,bucket){
raw.length>4096&&badKey(d+': path longer than 4096 characters');
try{raw=unquote(raw).replace(/^\//,'');}catch(e){badKey(d+': path is not valid UTF-8');}
if(bucket!=null){
var b=o.buckets||{};
has(b,bucket)||refuse(d,'bucket',`bucket '${cut40(bucket)}' is not served here`);
raw=b[bucket]+raw;
}
return checkKey(raw);
}
