#ifndef CKMOD_SHIM_H
#define CKMOD_SHIM_H
#include <libkmod.h>
#endif
