<?php
/**
 * Plugin Name: diptych player
 * Description: In the posts diptych publishes, the "▶ m:ss" links and the chapters seek the post's own audio player (without it they open the audio file at that time); and the episode's transcript.json and chapters.json may be uploaded to the media library.
 * Version: 0.1.0
 * Requires at least: 5.6
 * License: MIT
 *
 * Optional: a stock WordPress shows diptych's posts as they are. Copy this file to
 * wp-content/plugins/ and activate it under Plugins.
 */

if (!defined('ABSPATH')) {
    exit;
}

// WordPress refuses .json uploads by default: allow them to the users who may upload files.
add_filter('upload_mimes', function ($mimes) {
    if (current_user_can('upload_files')) {
        $mimes['json'] = 'application/json';
    }
    return $mimes;
});

// The script goes into the page's footer, never into the post's content.
add_action('wp_enqueue_scripts', function () {
    $post = get_post();
    if (!is_singular() || !$post || strpos($post->post_content, 'class="diptych-player"') === false) {
        return;
    }
    wp_register_script('diptych-player', false, array(), '0.1.0', true);
    wp_enqueue_script('diptych-player');
    wp_add_inline_script('diptych-player', <<<'JS'
(function () {
  "use strict";
  var stopAt = null;
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.diptych-play, a.diptych-seek");
    var audio = document.querySelector("figure.diptych-player audio");
    if (!link || !audio || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    var end = parseFloat(link.dataset.end);
    audio.currentTime = parseFloat(link.dataset.start);
    stopAt = link.classList.contains("diptych-play") && isFinite(end) ? end : null;
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
  });
  document.addEventListener("timeupdate", function (event) {
    var audio = event.target;
    if (stopAt !== null && audio.currentTime >= stopAt) { audio.pause(); stopAt = null; }
  }, true);
})();
JS
    );
});
