# Files compiled into binaries as C arrays, so that they stay editable as
# what they are (HTML, CSS, JavaScript): bk_embed(OUT_VAR SYMBOL FILE)
# generates <build>/embedded/SYMBOL.c defining `const char SYMBOL[]` (the
# bytes, NUL-terminated) and `const size_t SYMBOL_len`, regenerated when FILE
# changes; add OUT_VAR to a target's sources.
set(BK_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_file.cmake)

function(bk_embed out_var symbol file)
  set(out ${CMAKE_BINARY_DIR}/embedded/${symbol}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DSYMBOL=${symbol} -P ${BK_EMBED_SCRIPT}
    DEPENDS ${file} ${BK_EMBED_SCRIPT}
    COMMENT "Embedding ${symbol}"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
