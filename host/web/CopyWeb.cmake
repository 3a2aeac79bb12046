# cmake -DSOURCE_DIR=host/web -DOUT_DIR=<build>/web -DNPM=<npm> -DSOURCES=... -DVENDOR=... -P
# Installs node_modules with `npm ci` when it is missing or older than package-lock.json, then
# copies the page's files into OUT_DIR. Builds of several presets may run this at once on the same
# checkout, so the whole step holds a lock on the source directory.
file(LOCK ${SOURCE_DIR} DIRECTORY GUARD PROCESS TIMEOUT 600)

set(lock ${SOURCE_DIR}/package-lock.json)
set(installed ${SOURCE_DIR}/node_modules/.package-lock.json)
if(NOT EXISTS ${installed} OR ${lock} IS_NEWER_THAN ${installed})
  if(NOT NPM)
    message(FATAL_ERROR "npm is needed to install xterm.js for the web page "
      "(host/web/node_modules is missing); run deploy/install-deps.sh")
  endif()
  message(STATUS "npm ci in ${SOURCE_DIR}")
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund --loglevel=error
    WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "npm ci failed in ${SOURCE_DIR} (${result})")
  endif()
  file(TOUCH ${installed})
endif()

file(MAKE_DIRECTORY ${OUT_DIR})
foreach(file IN LISTS SOURCES)
  file(COPY_FILE ${SOURCE_DIR}/${file} ${OUT_DIR}/${file})
endforeach()
foreach(file IN LISTS VENDOR)
  get_filename_component(name ${file} NAME)
  file(COPY_FILE ${SOURCE_DIR}/node_modules/${file} ${OUT_DIR}/${name})
endforeach()
