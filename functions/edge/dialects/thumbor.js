// vipsfront.url.dialects.thumbor: thumbor's and imagor's paths (readPath reads the options)
// thumbor and imagor (o.name): the first segment is unsafe or a signature, which this build does not
// check (a dialect's own secret stays at the origin): the unsigned policy judges the request
function translate(path,query,o){
var d=o.name,v={},s,h;
path.length>4096&&refuse(d,'key','path longer than 4096 characters');
query&&refuse(d,split(query,'=')[0]||'query','thumbor URLs take no query');
s=path.slice(1).split('/');
h=s.length>1?s.shift():'';
h=='unsafe'||/^[\w=-]{27,28}$/.test(h)||refuse(d,'signature','the path starts with /unsafe/ or a signature');
return {key:keyOf(d,readPath(d,0,s,v).join('/'),o),values:v};
}
