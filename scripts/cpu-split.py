#!/usr/bin/env python3
"""CPU used per process name over a window, from /proc (utime + stime), e.g. while a
roster-bench workload runs:  scripts/cpu-split.py 6   -> cores used by roster, postgres,
roster-bench ... over the next 6 seconds (BENCHMARKS.md, PostgreSQL throughput)."""
import os, time, sys, collections
def snap():
    d=collections.Counter()
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            s=open(f'/proc/{p}/stat').read()
        except OSError: continue
        comm=s[s.index('(')+1:s.rindex(')')]
        f=s[s.rindex(')')+2:].split()
        t=int(f[11])+int(f[12])
        key = 'postgres' if comm.startswith('postgres') else comm
        d[key]+=t
    return d
a=snap(); t0=time.time(); time.sleep(float(sys.argv[1])); b=snap(); dt=time.time()-t0
hz=os.sysconf('SC_CLK_TCK')
tot=0
rows=[]
for k in b:
    v=(b[k]-a.get(k,0))/hz/dt
    if v>0.02: rows.append((v,k)); tot+=v
for v,k in sorted(rows,reverse=True): print(f'{k:20s} {v:5.2f} cores')
print(f'{"total":20s} {tot:5.2f} cores over {dt:.1f} s')
