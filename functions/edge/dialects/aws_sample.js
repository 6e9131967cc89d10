// vipsfront.url.dialects.aws_sample: the AWS sample's query (format, width, height, quality)
var AWS='aws-sample',AWS_NAMES={width:'w',height:'h',quality:'q',format:'fm'};
function translate(path,query,o){
var v={};
pairs(query).forEach(p=>{
has(AWS_NAMES,p[0])||none(AWS,p[0],p[0],'parameter');
p[0]!='format'||/^(auto|jpe?g|webp|avif|png|gif)$/.test(p[1])||none(AWS,'format',p[1]);
v[AWS_NAMES[p[0]]]=p[1];
});
return {key:keyOf(AWS,path,o),values:v,names:{w:'width',h:'height',q:'quality',fm:'format'}};
}
