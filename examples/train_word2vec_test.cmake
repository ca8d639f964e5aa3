# CTest checks of train-word2vec, run as `cmake -DTOOL=... -DCASE=... -DWORK=... -P` this file.
#   CASE=smoke          a short training run: exit 0, the last epoch's loss below the first's, text
#                       and binary outputs have the shape word2vec's formats require
#   CASE=deterministic  one thread and a seed: two runs give identical files, another seed not
#   CASE=errors         missing or empty corpus, bad options: exit 2 with a one-line message;
#                       -help: the usage on stdout (saying the defaults are fastText's), exit 0
#   CASE=subwords       -maxn 5 -saveModel, skipgram and cbow: the loss falls, the .bin names the
#                       model, and emb's reader gives from it the tool's own vectors, and those
#                       of `fasttext print-word-vectors` (FASTTEXT) and gensim's
#                       load_facebook_model (PYTHON) for known and unknown words, checked by
#                       TEST "[trained]"; each reference is skipped when it is not installed
# CORPUS is a text file to train on; when it does not exist a small corpus is generated.

cmake_minimum_required(VERSION 3.21)
foreach(var TOOL CASE WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "train_word2vec_test.cmake: -D${var}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

# The training text: the first 25 documents of the given corpus (fast even in Debug builds), or
# sentences generated from a small grammar, so that co-occurrence has structure to learn.
set(corpus ${WORK}/corpus.txt)
if(DEFINED CORPUS AND EXISTS ${CORPUS})
  file(STRINGS ${CORPUS} lines LIMIT_COUNT 25)
  list(JOIN lines "\n" text)
else()
  set(subjects cat dog bird fish horse mouse)
  set(verbs eats sees likes chases finds hears)
  set(objects food water seed grass cheese bread)
  set(text "")
  foreach(i RANGE 1999)
    math(EXPR s "${i} % 6")
    math(EXPR v "(${i} / 6) % 6")
    math(EXPR o "(${i} * 7 + ${i} / 36) % 6")
    list(GET subjects ${s} subject)
    list(GET verbs ${v} verb)
    list(GET objects ${o} object)
    string(APPEND text "the ${subject} ${verb} the ${object} every day\n")
  endforeach()
endif()
file(WRITE ${corpus} "${text}\n")

# Runs the tool; sets out, err and rc in the caller.
function(run_tool)
  execute_process(COMMAND ${TOOL} ${ARGN} OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r)
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
  set(rc "${r}" PARENT_SCOPE)
endfunction()

# check(MESSAGE CONDITION...): fails the test with MESSAGE unless if(CONDITION) holds.
function(check message)
  if(NOT (${ARGN}))
    message(FATAL_ERROR "${message}")
  endif()
endfunction()

# A tiny corpus learns only with a large learning rate.
set(common -input ${corpus} -dim 16 -window 3 -neg 3 -minCount 2 -lr 0.3 -verbose 1)

if(CASE STREQUAL "smoke")
  run_tool(${common} -epoch 4 -thread 2 -output ${WORK}/vectors.txt)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "training failed (${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCHALL "epoch [0-9]+ loss [0-9.e+-]+" epochs "${out}")
  list(LENGTH epochs n)
  check("expected 4 epoch losses, got:\n${out}" n EQUAL 4)
  list(GET epochs 0 first)
  list(GET epochs 3 last)
  string(REGEX REPLACE ".* loss " "" first "${first}")
  string(REGEX REPLACE ".* loss " "" last "${last}")
  check("the loss did not fall: ${first} -> ${last}\n${out}" last LESS first)

  # Text: "V 16", then V lines of a word and 16 numbers.
  file(STRINGS ${WORK}/vectors.txt rows)
  list(POP_FRONT rows header)
  string(REGEX MATCH "^([0-9]+) 16$" matched "${header}")
  check("bad text header '${header}'" matched)
  set(words ${CMAKE_MATCH_1})
  list(LENGTH rows count)
  check("header says ${words} words, the file has ${count}" count EQUAL words)
  foreach(row IN LISTS rows)
    string(REGEX MATCHALL "[^ ]+" fields "${row}")
    list(LENGTH fields width)
    check("row '${row}' does not have a word and 16 numbers" width EQUAL 17)
    list(GET fields 1 x)
    check("row '${row}' has a non-number" x MATCHES "^-?[0-9]")
  endforeach()

  # Binary: the same header, then per word "word " + 16 little-endian floats + "\n".
  run_tool(${common} -epoch 1 -thread 1 -binary -output ${WORK}/vectors.bin)
  check("binary training failed (${rc}):\n${err}" rc EQUAL 0)
  file(READ ${WORK}/vectors.bin head LIMIT 32)
  string(REGEX MATCH "^([0-9]+) 16\n" header "${head}")
  check("bad binary header in '${head}'" CMAKE_MATCH_1 EQUAL words)
  file(SIZE ${WORK}/vectors.bin size)
  string(LENGTH "${words} 16\n" header_bytes)
  set(word_bytes 0)
  foreach(row IN LISTS rows)
    string(REGEX MATCH "^[^ ]+" word "${row}")
    string(LENGTH "${word}" length)
    math(EXPR word_bytes "${word_bytes} + ${length}")
  endforeach()
  math(EXPR expected "${header_bytes} + ${word_bytes} + ${words} * (1 + 16 * 4 + 1)")
  check("binary file has ${size} bytes, expected ${expected}" size EQUAL expected)
elseif(CASE STREQUAL "subwords")
  # Words to ask the references: the model's first six, and some it never saw.
  set(unknown "kingz\nqwertyuiop\ngovernmentt\nstraße\nzz\n")
  foreach(model skipgram cbow)
    set(dir ${WORK}/${model})
    file(MAKE_DIRECTORY ${dir})
    run_tool(${common} -epoch 3 -thread 2 -model ${model} -minn 2 -maxn 5 -bucket 5000
             -output ${dir}/vectors.vec -saveModel ${dir}/model.bin)
    check("${model}: training failed (${rc}):\n${out}\n${err}" rc EQUAL 0)
    string(REGEX MATCHALL "epoch [0-9]+ loss [0-9.e+-]+" epochs "${out}")
    list(GET epochs 0 first)
    list(GET epochs 2 last)
    string(REGEX REPLACE ".* loss " "" first "${first}")
    string(REGEX REPLACE ".* loss " "" last "${last}")
    check("${model}: the loss did not fall: ${first} -> ${last}\n${out}" last LESS first)
    check("${model}: no subwords line in:\n${out}"
          out MATCHES "subwords: character 2- to 5-grams in 5000 rows")
    # The model type in the file's arguments (int32 at byte 36): cbow 1, skipgram 2.
    file(READ ${dir}/model.bin type OFFSET 36 LIMIT 4 HEX)
    if(model STREQUAL "cbow")
      check("${model}: the .bin says model ${type}" type STREQUAL "01000000")
    else()
      check("${model}: the .bin says model ${type}" type STREQUAL "02000000")
    endif()

    file(STRINGS ${dir}/vectors.vec rows LIMIT_COUNT 7)
    list(POP_FRONT rows header)
    set(words "")
    foreach(row IN LISTS rows)
      string(REGEX MATCH "^[^ ]+" word "${row}")
      string(APPEND words "${word}\n")
    endforeach()
    file(WRITE ${dir}/words.txt "${words}${unknown}")
    if(FASTTEXT)
      execute_process(COMMAND ${FASTTEXT} print-word-vectors ${dir}/model.bin
                      INPUT_FILE ${dir}/words.txt OUTPUT_FILE ${dir}/fasttext.txt
                      RESULT_VARIABLE rc)
      check("${model}: fasttext print-word-vectors failed (${rc})" rc EQUAL 0)
    else()
      message(STATUS "fasttext not found: its vectors are not compared")
      file(WRITE ${dir}/fasttext.txt "")
    endif()
    if(PYTHON)
      execute_process(COMMAND ${PYTHON} -c "import gensim" RESULT_VARIABLE no_gensim
                      OUTPUT_QUIET ERROR_QUIET)
    endif()
    if(PYTHON AND NOT no_gensim)
      string(CONCAT script "import sys\nfrom gensim.models.fasttext import load_facebook_model\n"
             "wv = load_facebook_model(sys.argv[1]).wv\n"
             "for w in open(sys.argv[2], encoding='utf-8').read().split():\n"
             "    print(w, ' '.join(repr(float(x)) for x in wv[w]))\n")
      execute_process(COMMAND ${PYTHON} -c "${script}" ${dir}/model.bin ${dir}/words.txt
                      OUTPUT_FILE ${dir}/gensim.txt RESULT_VARIABLE rc ERROR_VARIABLE e)
      check("${model}: gensim could not read the model (${rc}): ${e}" rc EQUAL 0)
    else()
      message(STATUS "gensim not found: its vectors are not compared")
    endif()
    set(ENV{EMB_TRAINED_FASTTEXT} ${dir})
    execute_process(COMMAND ${TEST} "[trained]" RESULT_VARIABLE rc)
    check("${model}: the trained model's vectors disagree (${rc})" rc EQUAL 0)
  endforeach()
elseif(CASE STREQUAL "deterministic")
  run_tool(${common} -epoch 1 -thread 1 -seed 7 -output ${WORK}/a.txt)
  check("run a failed:\n${err}" rc EQUAL 0)
  run_tool(${common} -epoch 1 -thread 1 -seed 7 -output ${WORK}/b.txt)
  check("run b failed:\n${err}" rc EQUAL 0)
  run_tool(${common} -epoch 1 -thread 1 -seed 8 -output ${WORK}/c.txt)
  check("run c failed:\n${err}" rc EQUAL 0)
  file(SHA256 ${WORK}/a.txt a)
  file(SHA256 ${WORK}/b.txt b)
  file(SHA256 ${WORK}/c.txt c)
  check("two runs with -thread 1 -seed 7 wrote different files" a STREQUAL b)
  check("-seed 7 and -seed 8 wrote the same file" NOT a STREQUAL c)
elseif(CASE STREQUAL "errors")
  # Pairs of arguments (separated by |) and the message stderr must start with; the exit
  # status is always 2.
  file(WRITE ${WORK}/empty.txt "")
  file(WRITE ${WORK}/blank.txt " \n\t\n\n")
  set(cases
      "-input|${WORK}/missing.txt|-output|${WORK}/x.txt" "cannot read corpus '.*missing.txt'"
      "-input|${WORK}/empty.txt|-output|${WORK}/x.txt" "corpus '.*empty.txt' is empty"
      "-input|${WORK}/blank.txt|-output|${WORK}/x.txt" "corpus '.*blank.txt' is empty"
      "-input|${WORK}|-output|${WORK}/x.txt" "cannot read corpus"
      "-input|${corpus}|-output|${WORK}/x.txt|-minCount|100000" "occurs -minCount 100000 times"
      "-input|${corpus}|-output|${WORK}/x.txt|-dim|abc" "option -dim needs a number in .1, "
      "-input|${corpus}|-output|${WORK}/x.txt|-dim|0" "option -dim needs a number in .1, "
      "-input|${corpus}|-output|${WORK}/x.txt|-ws|0" "option -ws needs a number in .1, "
      "-input|${corpus}|-output|${WORK}/x.txt|-lr" "option -lr needs a value"
      "-input|${corpus}|-output|${WORK}/x.txt|-optimizer|rmsprop" "needs sgd or adam, got 'rmsprop'"
      "-input|${corpus}|-output|${WORK}/x.txt|-foo|1" "unknown option '-foo'"
      "-input|${corpus}|-output|${WORK}/x.txt|-maxn|6|-bucket|0" "-maxn 6 needs n-gram rows"
      "-input|${corpus}|-output|${WORK}/x.txt|-minn|0" "option -minn needs a number in .1, "
      "-input|${corpus}|-output|${WORK}/x.txt|-model|sg" "needs skipgram or cbow, got 'sg'"
      "-output|${WORK}/x.txt" "-input CORPUS is required")
  list(LENGTH cases n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET cases ${i} args)
    string(REPLACE "|" ";" args "${args}")
    string(REPLACE ";" " " shown "${args}")
    list(GET cases ${j} pattern)
    run_tool(${args})
    check("train-word2vec ${shown}: exit status ${rc}, expected 2" rc EQUAL 2)
    string(REGEX MATCH "^train-word2vec: [^\n]*\n" first_line "${err}")
    check("train-word2vec ${shown}: stderr was '${err}'" first_line MATCHES "${pattern}")
    check("train-word2vec ${shown} wrote an output file" NOT EXISTS ${WORK}/x.txt)
  endforeach()
  run_tool(-help)
  check("-help: exit status ${rc}, stdout '${out}'" rc EQUAL 0 AND out MATCHES "^usage: train-word2vec")
  check("-help does not say the defaults are fastText's: '${out}'" out MATCHES "fastText's default")
  # Corpus errors are one line; option errors add the usage text.
  run_tool(-input ${WORK}/missing.txt -output ${WORK}/x.txt)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines count)
  check("a missing corpus printed ${count} lines: '${err}'" count EQUAL 1)
else()
  message(FATAL_ERROR "train_word2vec_test.cmake: unknown CASE '${CASE}'")
endif()
