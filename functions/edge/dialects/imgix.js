// vipsfront.url.dialects.imgix: imgix's rendering API (?w=800&h=600&fit=crop&auto=format)
var IX='imgix',IX_FIT={clip:'inside',max:'inside',crop:'cover',min:'cover',fill:'contain',fillmax:'contain',scale:'fill'};
var IX_FM={jpg:'jpeg',jpeg:'jpeg',pjpg:'jpeg',png:'png',png8:'png',png32:'png',webp:'webp',avif:'avif',gif:'gif'};
var IX_SMART={entropy:'entropy',edges:'attention',faces:'face'};
var IX_PASSED='w h dpr q flip rect'.split(' '),IX_OTHER='ixlib ixid s expires auto crop fp-x fp-y'.split(' ');
// colour: rgb, argb, rrggbb or aarrggbb as the native rrggbbaa
function ixColour(n,r){
var d=(/^#?([\da-f]{3,4}|[\da-f]{6}|[\da-f]{8})$/i.exec(r)||refuse(IX,n,n+' must be a hex colour: rgb, argb, rrggbb or aarrggbb'))[1].toLowerCase();
d.length<5&&(d=d.replace(/./g,'$&$&'));
return d.length==8?d.slice(2)+d.slice(0,2):d;
}
var ixNumber=(n,r,hi)=>/^\d{1,4}(\.\d{1,6})?$/.test(r)&&+r<=hi?+r:refuse(IX,n,`${n} must be a number from 0 to ${hi}`);
var ixSigma=(n,r,hi,scale,top)=>(r=ixNumber(n,r,hi))?decimal(Math.min(top,Math.max(0.3,r/scale))):null;
// _crop: the first smart mode named, else a compass position, else the focal point
function ixCrop(v,ps){
var modes=ps.crop.split(','),is=m=>modes.indexOf(m)>=0,x=modes.filter(m=>!/^(top|bottom|left|right|center|focalpoint)$/.test(m)&&!has(IX_SMART,m));
x.length&&none(IX,'crop',x[0]);
if(is('focalpoint')){
v.fx=decimal(ixNumber('fp-x',has(ps,'fp-x')?ps['fp-x']:'0.5',1));
v.fy=decimal(ixNumber('fp-y',has(ps,'fp-y')?ps['fp-y']:'0.5',1));
}else if(x=modes.filter(m=>has(IX_SMART,m))[0])v.pos=IX_SMART[x];
else v.pos=[/^(top|bottom)$/,/^(left|right)$/].map(re=>modes.filter(m=>re.test(m))[0]).filter(Boolean).join('-')||'center';
}
function translate(path,query,o){
var key=keyOf(IX,path,o),ps={},v={},fill,x;
pairs(query).forEach(p=>{
var n=p[0],r=ps[n]=p[1];
if(IX_PASSED.indexOf(n)>=0)v[n]=r;
else if(n=='fit')v.fit=has(IX_FIT,r)?IX_FIT[r]:none(IX,n,r);
else if(n=='fm'){
r=='json'&&refuse(IX,n,"fm=json: the image's information is at /_vf/info/{key}");
v.fm=has(IX_FM,r)?IX_FM[r]:none(IX,n,r);
}else if(n=='blur')(x=ixSigma(n,r,2000,20,100))&&(v.blur=x);
else if(n=='sharp')(x=ixSigma(n,r,100,10,10))&&(v.sharpen=x);
else if(n=='rot')v.rot=/^(0|90|180|270)$/.test(r)?r:refuse(IX,n,'rot must be 0, 90, 180 or 270 (other angles have no equivalent here)');
else if(n=='bg')v.bg=ixColour(n,r);
else if(n=='fill-color')fill=ixColour(n,r);
else if(n=='fill')r=='solid'||none(IX,n,r);
else IX_OTHER.indexOf(n)>=0||none(IX,n,n,'parameter');
});
v.fit=v.fit||'inside';// imgix's default, clip
fill!=null&&v.fit=='contain'&&v.bg==null&&(v.bg=fill);
has(ps,'crop')&&v.fit=='cover'&&ixCrop(v,ps);
has(ps,'auto')&&ps.auto.split(',').indexOf('format')>=0&&v.fm==null&&(v.fm='auto');
if(has(ps,'expires')){
/^\d{1,12}$/.test(ps.expires)||refuse(IX,'expires','expires must be a Unix time in seconds');
Date.now()/1000>ps.expires&&deny(IX+': the URL has expired','expires');
}
return {key:key,values:v,names:{sharpen:'sharp'}};
}
