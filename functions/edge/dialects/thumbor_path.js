// vipsfront.url.dialects.thumbor.read_path: the options of thumbor's paths (thumbor, imagor and the
// Serverless Image Handler's thumbor-style paths)
// /{unsafe|signature}/[trim/][AxB:CxD/][fit-in/][-]Wx[-]H/[halign/][valign/][smart/][filters:...]/key
var TH_FORMATS={jpeg:'jpeg',jpg:'jpeg',png:'png',webp:'webp',avif:'avif',gif:'gif'};
var TH_COLOURS={white:'ffffff',black:'000000',transparent:'ffffff00'};
var thNumber=(d,n,r)=>/^\d{1,4}(\.\d{1,6})?$/.test(r)?+r:refuse(d,n,`${n} takes a number, not '${cut40(r)}'`);
// _filter; cw: rotate turns clockwise (the Serverless Image Handler), else counter-clockwise (thumbor)
function thFilter(d,cw,n,a,v){
var f=a.length?a[0]:'',x;
if(n=='format')v.fm=has(TH_FORMATS,f)?TH_FORMATS[f]:none(d,n,f);
else if(n=='quality')v.q=f;
else if(n=='blur')(x=thNumber(d,n,a.length>1?a[1]:f))&&(v.blur=decimal(Math.min(100,Math.max(0.3,x))));
else if(n=='sharpen')v.sharpen=decimal(Math.min(10,Math.max(0.3,thNumber(d,n,a.length>1?a[1]:'1'))));
else if(n=='rotate'){
/^(0|90|180|270)$/.test(f)||refuse(d,n,'rotate takes 0, 90, 180 or 270 (other angles have no equivalent)');
(x=cw?+f:(360-f)%360)&&(v.rot=''+x);
}else if(n=='fill'||n=='background_color')
v.bg=has(TH_COLOURS,f)?TH_COLOURS[f]:(/^#?([\da-f]{3}|[\da-f]{6}|[\da-f]{8})$/i.exec(f)||none(d,n,f,n+' colour'))[1];
else if(n=='upscale'||n=='no_upscale')v.enlarge=n=='upscale'?'1':'0';
else if(n=='stretch')v.fit='fill';
else /^strip_(exif|icc)$/.test(n)||none(d,n,n,'filter');// variants never keep metadata
}
// _filters: filters:name(args):name(args)
function thFilters(d,cw,t,v){
for(var i=0,m;i<t.length;){
m=/^([a-z_]{1,32})\(([^()]{0,200})\)/.exec(t.slice(i))||refuse(d,'filters',`malformed filters at '${t.slice(i,i+40)}'`);
thFilter(d,cw,m[1],m[2]?m[2].split(',').map(strip):[],v);
i+=m[0].length;
i<t.length&&(t[i++]==':'||refuse(d,'filters',"filters are separated by ':'"));
}
}
// read_path: the option segments at the head of s onto v; returns the key's segments
function readPath(d,cw,s,v){
var take=re=>{var m=s.length>1&&re.exec(s[0]);m&&s.shift();return m;},m,fit,h,w;
s.length>1&&s[0]=='meta'&&none(d,'meta','meta','option');
if(m=take(/^trim(:top-left)?(?::(\d{1,3}))?$/))v.trim=''+Math.min(255,+(m[2]||0));
if(m=take(/^(\d{1,5})x(\d{1,5}):(\d{1,5})x(\d{1,5})$/)){
+m[3]>+m[1]&&+m[4]>+m[2]||refuse(d,'rect','the crop AxB:CxD needs C above A and D above B');
v.rect=[+m[1],+m[2],m[3]-m[1],m[4]-m[2]].join(',');
}
if(fit=s.length>1&&/^(adaptive-|full-)?fit-in$/.test(s[0]))s[0]=='fit-in'?s.shift():none(d,s[0],s[0],'option');
if(m=take(/^(-?)(\d{0,5})x(-?)(\d{0,5})$/)){
m[2]&&m[2]!='0'&&(v.w=m[2]);
m[4]&&m[4]!='0'&&(v.h=m[4]);
(w=(m[1]&&'h')+(m[3]&&'v'))&&(v.flip=w);
}
h=s.length>1&&/^(left|right|center)$/.test(s[0])?s.shift():'';
w=s.length>1&&/^(top|bottom|middle)$/.test(s[0])?s.shift():'';
h=[w,h].filter(x=>x&&x!='middle'&&x!='center').join('-');
// smart: thumbor finds faces first, then features; pos=face falls back to attention
if(s.length>1&&s[0]=='smart')s.shift(),h='face';
h&&(v.pos=h);
s.length>1&&!s[0].indexOf('filters:')&&thFilters(d,cw,s.shift().slice(8),v);
v.fit=v.fit||(fit?v.bg!=null?'contain':'inside':'cover');// stretch() sets it
return s;
}
