# int8 inference (issue 18): the int8 kernels' float epilogue must round the same on every
# code path, so no fused multiply-add may be contracted from separate operations there.
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/ops/gemm_int8.c
  PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
