# Runs a PyTorch golden generator with a fresh seed, then the Catch2 test on its output.
# -DPYTHON -DGENERATOR -DCASES -DOUT -DTEST -DENV_VAR, from tests/CMakeLists.txt.
string(RANDOM LENGTH 9 ALPHABET 0123456789 seed)
string(REGEX REPLACE "^0+" "" seed "1${seed}")
message(STATUS "seed ${seed}: rerun with ${GENERATOR} --seed ${seed} --cases ${CASES}")
execute_process(COMMAND ${PYTHON} ${GENERATOR} --seed ${seed} --cases ${CASES} --out ${OUT}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "${GENERATOR} failed (${rc})")
endif()
set(ENV{${ENV_VAR}} ${OUT})
execute_process(COMMAND ${TEST} "[golden]" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "${TEST} disagrees with PyTorch on seed ${seed}")
endif()
