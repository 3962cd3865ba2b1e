/* avro.c — the avro converter's Avro binary encoding. (Being written.) */
#include "convert.h"
