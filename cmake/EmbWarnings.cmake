# Strict warnings for emb's own tests, examples and benchmarks. Never applied to the INTERFACE
# target, so users' builds are not affected by our choices.
function(emb_target_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${EMB_WARNINGS_AS_ERRORS}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE
      -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
      $<$<BOOL:${EMB_WARNINGS_AS_ERRORS}>:-Werror>)
  endif()
endfunction()
