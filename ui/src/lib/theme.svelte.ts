// Light, dark, or following the system (the default); remembered across runs.
// The choice is `data-theme` on <html>; app.css does the rest.
type Choice = 'system' | 'light' | 'dark';
const ORDER: Choice[] = ['system', 'light', 'dark'];

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
    this.choice = ORDER[(ORDER.indexOf(this.choice) + 1) % ORDER.length];
  }
}
