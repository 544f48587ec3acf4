/* A Name Service Switch module that knows one user and one group, nowhere in /etc/passwd or
 * /etc/group: what an LDAP, SSSD or systemd DynamicUser account looks like to a program.
 * Built as libnss_shmkitonly.so.2; glibc loads it when nsswitch.conf says
 * "passwd: files shmkitonly" and the library path reaches it. */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <string.h>
#include <sys/types.h>

#define ONLY_NAME "nss-only-user"
#define ONLY_GROUP "nss-only-group"
#define ONLY_ID 4242424

/* Copies `text` into the caller's buffer, or says it is too small. */
static char *keep(const char *text, char **buf, size_t *left) {
    size_t n = strlen(text) + 1;
    if (n > *left)
        return NULL;
    char *out = memcpy(*buf, text, n);
    *buf += n;
    *left -= n;
    return out;
}

static enum nss_status fill_user(struct passwd *pw, char *buf, size_t len, int *err) {
    if (!(pw->pw_name = keep(ONLY_NAME, &buf, &len)) || !(pw->pw_passwd = keep("x", &buf, &len)) ||
        !(pw->pw_gecos = keep("", &buf, &len)) || !(pw->pw_dir = keep("/", &buf, &len)) ||
        !(pw->pw_shell = keep("/bin/false", &buf, &len))) {
        *err = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    pw->pw_uid = ONLY_ID;
    pw->pw_gid = ONLY_ID;
    return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_group(struct group *gr, char *buf, size_t len, int *err) {
    char **members;
    if (!(gr->gr_name = keep(ONLY_GROUP, &buf, &len)) || !(gr->gr_passwd = keep("x", &buf, &len))) {
        *err = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    size_t pad = (sizeof(char *) - ((size_t)buf % sizeof(char *))) % sizeof(char *);
    if (len < pad + sizeof(char *)) {
        *err = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    }
    members = (char **)(buf + pad);
    members[0] = NULL;
    gr->gr_mem = members;
    gr->gr_gid = ONLY_ID;
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_shmkitonly_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *err) {
    if (uid != ONLY_ID)
        return NSS_STATUS_NOTFOUND;
    return fill_user(pw, buf, len, err);
}

enum nss_status _nss_shmkitonly_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *err) {
    if (strcmp(name, ONLY_NAME) != 0)
        return NSS_STATUS_NOTFOUND;
    return fill_user(pw, buf, len, err);
}

enum nss_status _nss_shmkitonly_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *err) {
    if (gid != ONLY_ID)
        return NSS_STATUS_NOTFOUND;
    return fill_group(gr, buf, len, err);
}

enum nss_status _nss_shmkitonly_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *err) {
    if (strcmp(name, ONLY_GROUP) != 0)
        return NSS_STATUS_NOTFOUND;
    return fill_group(gr, buf, len, err);
}
