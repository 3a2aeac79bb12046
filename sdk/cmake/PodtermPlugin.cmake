# podterm_sdk_add_plugin(<target> KIND <kind> NAME <name> SOURCES <file>...)
#
# Builds a podterm plugin: a MODULE named <kind>-<name>.so (the host finds a plugin by that file
# name), linked against podterm::sdk and Boost's headers (BOOST_DLL_ALIAS), with
#   - hidden visibility: only the descriptor alias is exported, so two plugins' private symbols
#     (or a plugin's copy of a library and the host's) never resolve to each other;
#   - -fno-gnu-unique (GCC): Boost.DLL's headers otherwise create STB_GNU_UNIQUE symbols that keep
#     glibc from ever unloading the library;
#   - -Wl,-z,defs: an unresolved symbol fails the build rather than the host's dlopen (not under
#     sanitizers, whose runtime the executable provides).
# KIND is runtime, storage, sync or auth. The output goes to CMAKE_LIBRARY_OUTPUT_DIRECTORY when
# set. Shared by the host's own build (sdk/CMakeLists.txt) and the installed SDK package.
function(podterm_sdk_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "KIND;NAME" "SOURCES")
  if(NOT arg_KIND MATCHES "^(runtime|storage|sync|auth)$")
    message(FATAL_ERROR "podterm_sdk_add_plugin(${target}): KIND must be runtime, storage, sync or "
      "auth, not '${arg_KIND}'")
  endif()
  if(NOT arg_NAME MATCHES "^[A-Za-z0-9_-]+$")
    message(FATAL_ERROR "podterm_sdk_add_plugin(${target}): NAME must be letters, digits, '-' and "
      "'_', not '${arg_NAME}'")
  endif()
  add_library(${target} MODULE ${arg_SOURCES})
  # GCC only: Clang emits no STB_GNU_UNIQUE symbols (and refuses the flag).
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-fno-gnu-unique>)
  set_target_properties(${target} PROPERTIES PREFIX "" SUFFIX ".so"
    OUTPUT_NAME "${arg_KIND}-${arg_NAME}"
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE podterm::sdk Boost::headers)
  if(NOT CMAKE_CXX_FLAGS MATCHES "sanitize")
    target_link_options(${target} PRIVATE -Wl,-z,defs)
  endif()
endfunction()
