#!/usr/bin/env bash
# After ab_sft.sh: the faults THP_MEM_ALLOC_ENABLE leaves (half of them) come from glibc's own mappings and heap
# trims. Variants, each with THP_MEM_ALLOC_ENABLE=1, on the same 3 demo SFT steps, under /usr/bin/time -v:
#   thp      nothing else
#   nomap    MALLOC_MMAP_THRESHOLD_=32 MiB (glibc's maximum) and MALLOC_TRIM_THRESHOLD_=1 GiB: blocks under 32 MiB
#            come from the heap and freed heap memory is kept, not returned and faulted in again
#   hugetlb  GLIBC_TUNABLES=glibc.malloc.hugetlb=1: glibc advises huge pages for its own heap and mappings
#   both     nomap + hugetlb
#   trim     MALLOC_TRIM_THRESHOLD_=1 GiB alone (glibc's dynamic mmap threshold kept)
#   arena1   nomap + MALLOC_ARENA_MAX=1 (one heap for every thread: no free memory held per thread arena)
#   mmap4    MALLOC_MMAP_THRESHOLD_=4 MiB and MALLOC_TRIM_THRESHOLD_=1 GiB
#   mmap2    MALLOC_MMAP_THRESHOLD_=2 MiB and MALLOC_TRIM_THRESHOLD_=1 GiB: blocks under 2 MiB from the heap, kept;
#            2 MiB and more mapped fresh, in huge pages (THP_MEM_ALLOC_ENABLE's threshold is 2 MiB)
#   mmap1    the same with 1 MiB
#   nommap   MALLOC_MMAP_MAX_=0 and MALLOC_TRIM_THRESHOLD_=1 GiB: every block from the heap, kept
# Run from the repository root: bash benchmarks/results/cpu_2026-12-01_thp/ab_malloc.sh /tmp/thp_malloc "thp nomap hugetlb both"
set -u
out=${1:-/tmp/thp_malloc}; order=${2:-"thp nomap hugetlb both"}; mkdir -p "$out"
i=0
for v in $order; do
  i=$((i + 1))
  extra=()
  case $v in
    thp) ;;
    nomap) extra=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
    hugetlb) extra=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1) ;;
    trim) extra=(MALLOC_TRIM_THRESHOLD_=1073741824) ;;
    arena1) extra=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_ARENA_MAX=1) ;;
    mmap2) extra=(MALLOC_MMAP_THRESHOLD_=2097152 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
    nommap) extra=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
    mmap1) extra=(MALLOC_MMAP_THRESHOLD_=1048576 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
    mmap4) extra=(MALLOC_MMAP_THRESHOLD_=4194304 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
    both) extra=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 GLIBC_TUNABLES=glibc.malloc.hugetlb=1) ;;
  esac
  echo "run $i $v ${extra[*]} load=$(cut -d' ' -f1 /proc/loadavg) $(date -u +%H:%M:%S)"
  env THP_MEM_ALLOC_ENABLE=1 "${extra[@]}" /usr/bin/time -v .venv/bin/python train/sft.py recipes/smollm2_demo.yaml \
      --training.max_steps 3 --training.save_strategy no --training.logging_steps 1 \
      --training.output_dir "$out/run$i" > "$out/run${i}_$v.log" 2>&1
  grep -o "'train_runtime': '[0-9.]*'" "$out/run${i}_$v.log" | tail -1
  grep -E "User time|System time|Maximum resident|Minor \(reclaiming|Elapsed" "$out/run${i}_$v.log"
done
