/* janitor.h - removes object chunks that no object references.
 *
 * An upload publishes its chunks before the meta message that commits the
 * object; a writer that dies in between (jetgate or any other client)
 * leaves chunks behind.  Every obj_janitor_interval a background thread
 * looks at every object bucket and purges each chunk subject that no live
 * meta message names and whose newest chunk is older than
 * obj_janitor_age (so uploads in progress are left alone). */
#ifndef JG_OBJ_JANITOR_H
#define JG_OBJ_JANITOR_H

#include "app.h"
#include "status.h"

struct jg_janitor;

/* Starts the thread (it does nothing while obj_janitor_interval is 0). */
jg_status jg_janitor_start(struct jg_app *app, struct jg_janitor **ret);
/* Stops and frees; NULL-safe. */
void jg_janitor_stop(struct jg_janitor *j);

/* Runs one pass over every object bucket now (blocking; for the thread
 * and for tests).  Returns how many chunk subjects it purged. */
int jg_janitor_pass(struct jg_app *app);

#endif
