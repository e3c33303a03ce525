// Light, dark, or following the system (the default); remembered across runs.
// The choice is `data-theme` on <html>; app.css does the rest.
export type Choice = 'system' | 'light' | 'dark';
export const THEMES: Choice[] = ['system', 'light', 'dark'];

export class Theme {
  choice = $state<Choice>((localStorage.getItem('theme') as Choice) || 'system');

  constructor() {
    $effect.root(() => {
      $effect(() => {
        document.documentElement.dataset.theme = this.choice;
        localStorage.setItem('theme', this.choice);
      });
    });
  }

  next(): void {
    this.choice = THEMES[(THEMES.indexOf(this.choice) + 1) % THEMES.length];
  }
}
