#!/usr/bin/env bash
# A throwaway WordPress for the tests, from Debian's packages, inside one folder:
#
#   scripts/wordpress-test.sh start DIR PORT   install the packages if missing (as root), start MariaDB
#                                              (socket only, DIR/db) and PHP's built-in server on
#                                              127.0.0.1:PORT, install WordPress, create the user
#                                              "creator" (author) and an application password;
#                                              writes DIR/wordpress.env (mode 0600)
#   scripts/wordpress-test.sh stop DIR         stop both servers
#
# Nothing outside DIR is written (besides the apt install): Debian's /usr/share/wordpress is used
# read-only, its directories linked, its top-level entry files copied so that they load DIR's own
# wp-config.php instead of Debian's /etc/wordpress/config-*.php.
set -euo pipefail

PACKAGES=(wordpress wordpress-theme-twentytwentyone mariadb-server php-cli php-mysql php-xml)
WP=/usr/share/wordpress

install_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "the WordPress tests need: ${missing[*]}. Run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's wordpress pulls in apache2: a policy-rc.d keeps it (and MariaDB's own service) from
  # starting, unless the machine already has one of its own.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then rm -f "$policy"; fi
}

wait_for() {  # wait_for SECONDS COMMAND...: retry until it succeeds
  local tries=$(($1 * 10)); shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}

start_database() {
  local dir=$1
  mkdir -p "$dir/db"
  local as_root=()
  [ "$(id -u)" -eq 0 ] && as_root=(--user=root)
  # No grant tables and no TCP port: only this folder's socket reaches it.
  mariadbd --no-defaults --datadir="$dir/db" --socket="$dir/mysql.sock" --pid-file="$dir/db.pid" \
    --skip-networking --skip-grant-tables "${as_root[@]}" --innodb-buffer-pool-size=32M \
    --innodb-log-file-size=8M --log-error="$dir/db.log" >/dev/null 2>&1 </dev/null &
  wait_for 30 mariadb --no-defaults -S "$dir/mysql.sock" -e "CREATE DATABASE IF NOT EXISTS wordpress"
}

make_docroot() {
  local dir=$1 port=$2 root=$1/www
  mkdir -p "$root/wp-content/uploads" "$root/wp-content/plugins" "$root/wp-content/mu-plugins"
  ln -sfn "$WP/wp-admin" "$root/wp-admin"
  ln -sfn "$WP/wp-includes" "$root/wp-includes"
  ln -sfn "$WP/wp-content/themes" "$root/wp-content/themes"
  for f in "$WP"/*.php; do
    [ "$(basename "$f")" = wp-config.php ] || cp "$f" "$root/"
  done
  local salt
  salt=$(head -c 48 /dev/urandom | base64 | tr -d '/+=')
  cat >"$root/wp-config.php" <<PHP
<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:$dir/mysql.sock');
define('DB_CHARSET', 'utf8mb4');
define('WP_HOME', 'http://127.0.0.1:$port');
define('WP_SITEURL', 'http://127.0.0.1:$port');
define('WP_CONTENT_DIR', '$root/wp-content');
define('WP_CONTENT_URL', 'http://127.0.0.1:$port/wp-content');
// Application passwords over plain http need a local environment.
define('WP_ENVIRONMENT_TYPE', 'local');
// Nobody may post unfiltered HTML: every post goes through WordPress's kses filter, as an author's does.
define('DISALLOW_UNFILTERED_HTML', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
foreach (array('AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT',
               'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT') as \$k) { define(\$k, '$salt' . \$k); }
\$table_prefix = 'wp_';
if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }
require_once ABSPATH . 'wp-settings.php';
PHP
  # PHP's built-in server: real files as they are (uploads with byte ranges, as a web server
  # answers them: browsers seek in audio only then), everything else through WordPress's index.php.
  cat >"$dir/router.php" <<'PHP'
<?php
$path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
$file = $_SERVER['DOCUMENT_ROOT'] . $path;
if ($path !== '/' && is_file($file)) {
    $range = $_SERVER['HTTP_RANGE'] ?? '';
    if (strpos($path, '/wp-content/uploads/') !== 0 || !preg_match('/^bytes=(\d*)-(\d*)$/', $range, $m)) {
        return false;
    }
    $size = filesize($file);
    $start = $m[1] === '' ? max(0, $size - (int) $m[2]) : (int) $m[1];
    $end = ($m[1] !== '' && $m[2] !== '') ? min((int) $m[2], $size - 1) : $size - 1;
    header('Accept-Ranges: bytes');
    if ($start > $end) {
        http_response_code(416);
        header("Content-Range: bytes */$size");
        return true;
    }
    http_response_code(206);
    header('Content-Type: ' . (mime_content_type($file) ?: 'application/octet-stream'));
    header("Content-Range: bytes $start-$end/$size");
    header('Content-Length: ' . ($end - $start + 1));
    $fh = fopen($file, 'rb');
    fseek($fh, $start);
    echo fread($fh, $end - $start + 1);
    fclose($fh);
    return true;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
PHP
}

install_wordpress() {
  local dir=$1 port=$2
  cat >"$dir/install.php" <<'PHP'
<?php
// Run by PHP's CLI: install the blog, then make the user and the application password.
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = parse_url(getenv('WP_TEST_URL'), PHP_URL_HOST);
require getenv('WP_TEST_ROOT') . '/wp-load.php';
function wp_new_blog_notification() {}  // no mail from a throwaway blog
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('diptych test blog', 'admin', 'admin@example.org', false, '', wp_generate_password(24));
$user_id = wp_insert_user(array(
    'user_login' => 'creator', 'user_pass' => wp_generate_password(24), 'user_email' => 'creator@example.org',
    'display_name' => 'The creator', 'role' => 'author',
));
if (is_wp_error($user_id)) { fwrite(STDERR, $user_id->get_error_message() . "\n"); exit(1); }
list($password) = WP_Application_Passwords::create_new_application_password($user_id, array('name' => 'diptych'));
update_option('blogdescription', 'Episodes and their articles');
// Pretty permalinks, as most blogs have them: /feed/, /wp-json/, /<post-name>/.
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
$wp_rewrite->flush_rules(false);
wp_insert_term('Podcast', 'category');
echo $password;
PHP
  local password
  password=$(WP_TEST_ROOT="$dir/www" WP_TEST_URL="http://127.0.0.1:$port" php "$dir/install.php")
  umask 077
  cat >"$dir/wordpress.env" <<ENV
WORDPRESS_URL=http://127.0.0.1:$port
WORDPRESS_USER=creator
WORDPRESS_APP_PASSWORD=$password
WORDPRESS_ROOT=$dir/www
ENV
}

start_server() {
  local dir=$1 port=$2
  # The built-in server answers one request at a time unless it has workers (WordPress's cron
  # calls back into the blog while a request is running).
  # In a process group of its own (setsid), so that stopping it stops its workers too.
  PHP_CLI_SERVER_WORKERS=4 setsid php -d upload_max_filesize=64M -d post_max_size=64M -d memory_limit=256M \
    -S "127.0.0.1:$port" -t "$dir/www" "$dir/router.php" >"$dir/php.log" 2>&1 </dev/null &
  echo $! >"$dir/php.pid"
  wait_for 30 php -r "exit(@file_get_contents('http://127.0.0.1:$port/wp-login.php') === false ? 1 : 0);"
}

stop_all() {
  local dir=$1
  if [ -f "$dir/php.pid" ]; then
    kill -- "-$(cat "$dir/php.pid")" 2>/dev/null || true  # the server and its workers
    rm -f "$dir/php.pid"
  fi
  if [ -f "$dir/db.pid" ]; then
    local pid; pid=$(cat "$dir/db.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

case "${1:-}" in
  start)
    [ $# -eq 3 ] || { echo "usage: $0 start DIR PORT" >&2; exit 2; }
    dir=$(realpath -m "$2"); port=$3
    mkdir -p "$dir"
    install_packages
    start_database "$dir"
    make_docroot "$dir" "$port"
    install_wordpress "$dir" "$port"
    start_server "$dir" "$port"
    echo "WordPress on http://127.0.0.1:$port (settings in $dir/wordpress.env)" >&2
    ;;
  stop)
    [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
    stop_all "$(realpath -m "$2")"
    ;;
  install)
    install_packages
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR | install" >&2
    exit 2
    ;;
esac
