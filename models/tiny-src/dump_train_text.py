import json,sys,glob
out=open(sys.argv[2],'w')
for f in sorted(glob.glob(sys.argv[1]+'/*/train.jsonl')):
    for line in open(f):
        r=json.loads(line); out.write(' '.join(r['code_tokens'])+'\n'+' '.join(r['docstring_tokens'])+'\n')
